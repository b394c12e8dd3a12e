/**
 * cpu-dedicated: re-pin a dedicated-CPU domain for the target's cpuset and topology.
 *
 * Reads KubeVirt's signals from the XML (docs/hooks.md), runs the placement of
 * pinning.ts, and writes only what differs: vcpupin/emulatorpin/iothreadpin cpusets and, under NUMA
 * passthrough, the numatune nodesets. Existing values are compared as CPU sets, not as text, so
 * "0,1,2" and "0-2" count as equal and a second run over its own output changes nothing.
 * Guest topology, guest NUMA cells and <features><kvm><hint-dedicated> are never touched (ABI).
 */
import { HookRefusal } from '../errors.js';
import { formatCpuList, parseCpuList } from '../topology/cpulist.js';
import type { DomainXml, XmlElement } from '../xml/index.js';
import { CPU_DEDICATED, pinningHostFrom, planPinning, type PinningPlan, type PinningRequest } from './pinning.js';
import type { Change, Hook, HookContext } from './types.js';

/**
 * Counts that size what this hook allocates, refused above these before anything is built from
 * them (a 219-byte domain with `<vcpu>4294967295</vcpu>` must cost nothing). KVM's vCPU limit is
 * of the order of 4096 (KVM_MAX_VCPUS on x86_64 since Linux 6.x), and QEMU has at most 128 guest
 * NUMA nodes (MAX_NODES); IO threads are per-guest objects of the same order as vCPUs.
 */
export const MAX_VCPUS = 4096;
export const MAX_GUEST_NUMA_CELLS = 256;
export const MAX_IOTHREADS = MAX_VCPUS;

function atMostCount(value: number, limit: number, what: string): number {
  if (value > limit) refuse(`${what} is ${value}, over the limit of ${limit}`);
  return value;
}

/** What the domain XML says about the guest's CPUs (exported for tests and `explain`). */
export interface GuestCpuSignals {
  maxVcpus: number;
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  /** vCPU ids to pin, ascending. */
  enabledVcpus: number[];
  guestCells: Array<{ id: number; vcpus: number[] }>;
  numaPassthrough: boolean;
  emulatorCpus: number;
  iothreads?: { ids: number[]; supplemental: boolean };
}

function refuse(message: string): never {
  throw new HookRefusal(CPU_DEDICATED, message);
}

function nonNegativeInt(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) refuse(`${what} must be a non-negative integer, got "${trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed}"`);
  return Number(trimmed);
}

/** Parse a cpuset-like attribute; undefined when absent or not a list. */
function cpusOf(value: string | undefined, limitExclusive?: number): number[] | undefined {
  if (value === undefined) return undefined;
  try {
    return parseCpuList(value, limitExclusive);
  } catch {
    return undefined;
  }
}

function sameCpus(current: string | undefined, wanted: readonly number[]): boolean {
  const cpus = cpusOf(current);
  if (!cpus) return false;
  const a = [...new Set(cpus)].sort((x, y) => x - y);
  const b = [...new Set(wanted)].sort((x, y) => x - y);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function readGuestCpuSignals(doc: DomainXml): GuestCpuSignals {
  const maxVcpus = nonNegativeInt(doc.selectOne('vcpu')?.text(), '<vcpu>');
  if (!maxVcpus) refuse('the domain pins vCPUs but has no valid <vcpu> count');
  atMostCount(maxVcpus, MAX_VCPUS, '<vcpu>');

  // libvirt's default topology when <topology> is absent: one socket per vCPU.
  const topo = doc.selectOne('cpu/topology');
  const attr = (name: string): number => nonNegativeInt(topo?.attr(name), `<topology ${name}>`) ?? 1;
  const sockets = topo ? attr('sockets') : maxVcpus;
  // dies and clusters only group cores; for placement they multiply the cores per socket.
  const coresPerSocket = topo ? attr('dies') * attr('clusters') * attr('cores') : 1;
  const threadsPerCore = topo ? attr('threads') : 1;
  if (sockets * coresPerSocket * threadsPerCore !== maxVcpus) {
    refuse(`guest topology ${sockets} socket(s) × ${coresPerSocket} core(s) × ${threadsPerCore} thread(s) does not match <vcpu>${maxVcpus}</vcpu>`);
  }

  // Hot-pluggable vCPUs: only the enabled ones are pinned.
  let enabledVcpus: number[];
  const vcpuList = doc.select('vcpus/vcpu');
  if (vcpuList.length > 0) {
    enabledVcpus = vcpuList
      .filter((v) => v.attr('enabled') !== 'no')
      .map((v) => nonNegativeInt(v.attr('id'), '<vcpus><vcpu id>') ?? -1)
      .filter((id) => id >= 0 && id < maxVcpus)
      .sort((a, b) => a - b);
  } else {
    const current = nonNegativeInt(doc.selectOne('vcpu')?.attr('current'), '<vcpu current>') ?? maxVcpus;
    enabledVcpus = Array.from({ length: Math.min(current, maxVcpus) }, (_, i) => i);
  }
  if (enabledVcpus.length === 0) refuse('the domain has no enabled vCPU to pin');

  const cellElements = doc.select('cpu/numa/cell');
  atMostCount(cellElements.length, MAX_GUEST_NUMA_CELLS, 'the number of guest NUMA cells');
  // A guest cell holds guest vCPU ids: bounded by <vcpu>, so each list costs at most maxVcpus ids.
  const guestCells = cellElements.map((cell, i) => ({
    id: nonNegativeInt(cell.attr('id'), '<numa><cell id>') ?? i,
    vcpus: cpusOf(cell.attr('cpus'), maxVcpus) ?? [],
  }));

  const emulatorPin = doc.selectOne('cputune/emulatorpin');
  // KubeVirt pins the emulator to one CPU, or two with the even-parity option; keep the source's choice.
  const emulatorCpus = emulatorPin ? ((cpusOf(emulatorPin.attr('cpuset'))?.length ?? 1) >= 2 ? 2 : 1) : 0;

  let iothreads: GuestCpuSignals['iothreads'];
  const count = atMostCount(nonNegativeInt(doc.selectOne('iothreads')?.text(), '<iothreads>') ?? 0, MAX_IOTHREADS, '<iothreads>');
  if (count > 0) {
    const declared = doc.select('iothreadids/iothread').map((e) => nonNegativeInt(e.attr('id'), '<iothreadids><iothread id>') ?? 0);
    const ids = declared.length ? [...declared].sort((a, b) => a - b) : Array.from({ length: count }, (_, i) => i + 1);
    // Disks that list <driver><iothreads><iothread id/> belong to KubeVirt's supplemental pool.
    const supplemental = doc.select('devices/disk').some((disk) => (disk.first('driver')?.first('iothreads')?.elements('iothread').length ?? 0) > 0);
    iothreads = { ids, supplemental };
  }

  return {
    maxVcpus,
    sockets,
    coresPerSocket,
    threadsPerCore,
    enabledVcpus,
    guestCells,
    numaPassthrough: doc.select('numatune/memnode').length > 0,
    emulatorCpus,
    ...(iothreads ? { iothreads } : {}),
  };
}

/** Collects edits and their report lines. */
class Editor {
  readonly changes: Change[] = [];

  setCpus(el: XmlElement, attrName: string, wanted: readonly number[], text: string, path: string): void {
    const before = el.attr(attrName);
    if (sameCpus(before, wanted)) return;
    el.setAttr(attrName, text);
    this.changes.push({ hook: CPU_DEDICATED, path: `${path}/@${attrName}`, before: before ?? null, after: text });
  }

  setText(el: XmlElement, attrName: string, value: string, path: string): void {
    const before = el.attr(attrName);
    if (before === value) return;
    el.setAttr(attrName, value);
    this.changes.push({ hook: CPU_DEDICATED, path: `${path}/@${attrName}`, before: before ?? null, after: value });
  }

  /** Insert `<name attrs…/>` after `after` (or as the first child); the last attribute is the reported value. */
  insert(parent: XmlElement, after: XmlElement | undefined, name: string, attrs: Array<[string, string]>, path: string): XmlElement {
    const first = parent.elements()[0];
    const el = parent.insert({ name, attrs }, after ? { after } : first ? { before: first } : undefined);
    const [reported, value] = attrs[attrs.length - 1] ?? ['', ''];
    this.changes.push({ hook: CPU_DEDICATED, path: `${path}/@${reported}`, before: null, after: value });
    return el;
  }

  remove(el: XmlElement, attrName: string, path: string): void {
    this.changes.push({ hook: CPU_DEDICATED, path: `${path}/@${attrName}`, before: el.attr(attrName) ?? null, after: null });
    el.remove();
  }
}

function byAttr(elements: XmlElement[], name: string): Map<string, XmlElement> {
  const map = new Map<string, XmlElement>();
  for (const el of elements) {
    const key = el.attr(name);
    if (key !== undefined && !map.has(key.trim())) map.set(key.trim(), el);
  }
  return map;
}

function writeCputune(cputune: XmlElement, plan: PinningPlan, edit: Editor): void {
  const base = '/domain/cputune';
  const vcpupins = cputune.elements('vcpupin');
  const pinByVcpu = byAttr(vcpupins, 'vcpu');
  let lastVcpupin = vcpupins[vcpupins.length - 1];
  for (const [vcpu, cpu] of plan.vcpuPins) {
    const path = `${base}/vcpupin[@vcpu='${vcpu}']`;
    const pin = pinByVcpu.get(String(vcpu));
    if (pin) edit.setCpus(pin, 'cpuset', [cpu], String(cpu), path);
    else lastVcpupin = edit.insert(cputune, lastVcpupin, 'vcpupin', [['vcpu', String(vcpu)], ['cpuset', String(cpu)]], path);
  }
  // Pins of vCPUs that are not enabled point at the source's CPUs; KubeVirt's target pins only enabled vCPUs.
  for (const pin of vcpupins) {
    const vcpu = Number(pin.attr('vcpu')?.trim());
    if (!plan.vcpuPins.has(vcpu)) edit.remove(pin, 'cpuset', `${base}/vcpupin[@vcpu='${pin.attr('vcpu') ?? ''}']`);
  }

  let anchor = cputune.elements('vcpupin').at(-1);
  const emulatorpin = cputune.first('emulatorpin');
  const emulatorText = plan.emulator?.join(',');
  if (emulatorpin && plan.emulator && emulatorText !== undefined) {
    edit.setCpus(emulatorpin, 'cpuset', plan.emulator, emulatorText, `${base}/emulatorpin`);
    anchor = emulatorpin;
  }

  const iothreadpins = cputune.elements('iothreadpin');
  const pinByIothread = byAttr(iothreadpins, 'iothread');
  anchor = iothreadpins.at(-1) ?? anchor;
  for (const [id, cpus] of plan.iothreadPins) {
    const text = plan.iothreadRule === 'balanced-slices' ? formatCpuList(cpus) : cpus.join(',');
    const path = `${base}/iothreadpin[@iothread='${id}']`;
    const pin = pinByIothread.get(String(id));
    if (pin) edit.setCpus(pin, 'cpuset', cpus, text, path);
    else anchor = edit.insert(cputune, anchor, 'iothreadpin', [['iothread', String(id)], ['cpuset', text]], path);
  }
  // With an isolated emulator KubeVirt pins only iothread 1. Any other iothread pin the source
  // carries points at the source's CPUs; the emulator's CPUs are the only ones in the target
  // cpuset that are not a vCPU's, so they go there too.
  if (plan.iothreadRule === 'with-emulator' && plan.emulator && emulatorText !== undefined) {
    for (const [id, pin] of pinByIothread) {
      if (!plan.iothreadPins.has(Number(id))) edit.setCpus(pin, 'cpuset', plan.emulator, emulatorText, `${base}/iothreadpin[@iothread='${id}']`);
    }
  }
}

function writeNumatune(numatune: XmlElement, plan: PinningPlan, edit: Editor): void {
  const base = '/domain/numatune';
  const nodeset = formatCpuList(plan.hostCellsUsed);
  let memory = numatune.first('memory');
  if (memory) {
    if (memory.attr('mode') !== undefined) edit.setText(memory, 'mode', 'strict', `${base}/memory`);
    edit.setCpus(memory, 'nodeset', plan.hostCellsUsed, nodeset, `${base}/memory`);
  } else {
    memory = edit.insert(numatune, undefined, 'memory', [['mode', 'strict'], ['nodeset', nodeset]], `${base}/memory`);
  }

  const memnodes = numatune.elements('memnode');
  const byCell = byAttr(memnodes, 'cellid');
  let anchor: XmlElement = memnodes.at(-1) ?? memory;
  const targets = plan.guestCellHostCells.size
    ? plan.guestCellHostCells
    : new Map(memnodes.map((m) => [Number(m.attr('cellid')), plan.hostCellsUsed] as [number, number[]]));
  for (const [cellId, hostCells] of targets) {
    const path = `${base}/memnode[@cellid='${cellId}']`;
    const text = formatCpuList(hostCells);
    const memnode = byCell.get(String(cellId));
    if (memnode) {
      if (memnode.attr('mode') !== undefined) edit.setText(memnode, 'mode', 'strict', path);
      edit.setCpus(memnode, 'nodeset', hostCells, text, path);
    } else {
      anchor = edit.insert(numatune, anchor, 'memnode', [['cellid', String(cellId)], ['mode', 'strict'], ['nodeset', text]], path);
    }
  }
}

/**
 * The vCPU pins the domain arrived with, when they already are a placement for this target: every
 * enabled vCPU pinned, and only to CPUs of the target's cpuset. That is what KubeVirt's own
 * placement hands us (up to 1.7 the source computes the target's pins; from 1.8 upstream's hook
 * runs before ours), as opposed to the source's pins, which point at the source node's CPUs.
 */
function placementForThisTarget(cputune: XmlElement, plan: PinningPlan, cpuset: readonly number[]): Map<number, number[]> | undefined {
  const allowed = new Set(cpuset);
  const pins = byAttr(cputune.elements('vcpupin'), 'vcpu');
  const placed = new Map<number, number[]>();
  for (const vcpu of plan.vcpuPins.keys()) {
    const cpus = cpusOf(pins.get(String(vcpu))?.attr('cpuset'));
    if (!cpus || cpus.length === 0 || cpus.some((c) => !allowed.has(c))) return undefined;
    placed.set(vcpu, cpus);
  }
  return placed;
}

const VCPUPIN_PATH = /^\/domain\/cputune\/vcpupin\[@vcpu='(\d+)'\]\/@cpuset$/;

/** The vCPU ids of the changes that correct a placement (see Change.correction), ascending. */
export function correctedVcpus(changes: readonly Change[]): number[] {
  const ids = changes
    .filter((c) => c.hook === CPU_DEDICATED && c.correction !== undefined)
    .map((c) => Number(VCPUPIN_PATH.exec(c.path)?.[1] ?? NaN))
    .filter((id) => Number.isInteger(id));
  return [...new Set(ids)].sort((a, b) => a - b);
}

/**
 * When the domain arrived already placed for this target and the hook still moved vCPUs, that
 * placement was wrong for this node's topology (typically KubeVirt's, which drops sibling ranges
 * such as `4-5` and so sees one-thread cores). Each moved vCPU's change gets a note that names it,
 * its guest core, and the host cores that guest core was on and is on now.
 */
function markCorrections(changes: Change[], placed: Map<number, number[]>, plan: PinningPlan, signals: GuestCpuSignals, ctx: HookContext): void {
  const t = signals.threadsPerCore;
  const moved = new Map<number, Change>();
  for (const change of changes) {
    const vcpu = Number(VCPUPIN_PATH.exec(change.path)?.[1] ?? NaN);
    if (change.before !== null && change.after !== null && placed.has(vcpu)) moved.set(vcpu, change);
  }
  if (moved.size === 0) return;
  const hostCores = (cpus: number[]): string => {
    const cores: string[] = [];
    for (const cpu of cpus) {
      const core = formatCpuList(ctx.host.cpus.get(cpu)?.siblings ?? [cpu]);
      if (!cores.includes(core)) cores.push(core);
    }
    return `host core${cores.length === 1 ? '' : 's'} ${cores.join(' + ')}`;
  };
  const vcpus = signals.enabledVcpus;
  for (let start = 0; start < vcpus.length; start += t) {
    const members = vcpus.slice(start, start + t);
    const misPinned = members.filter((v) => moved.has(v));
    if (misPinned.length === 0) continue;
    const before = members.flatMap((v) => placed.get(v) ?? []);
    const after = members.map((v) => plan.vcpuPins.get(v) as number);
    const note =
      `guest core ${start / t} (vCPU ${members.join(',')}) was on CPU ${before.join(',')} (${hostCores(before)}), ` +
      `now on CPU ${after.join(',')} (${hostCores(after)}); mis-pinned: vCPU ${misPinned.join(',')}`;
    for (const v of misPinned) (moved.get(v) as Change).correction = note;
  }
}

/** Build the placement request from the XML signals and the target facts. */
export function pinningRequestFor(signals: GuestCpuSignals, ctx: HookContext): PinningRequest {
  return {
    threadsPerCore: signals.threadsPerCore,
    vcpus: signals.enabledVcpus,
    cpuset: ctx.cpuset,
    host: pinningHostFrom(ctx.host),
    numaPassthrough: signals.numaPassthrough,
    emulatorCpus: signals.emulatorCpus,
    ...(signals.iothreads ? { iothreads: signals.iothreads } : {}),
    guestCells: signals.guestCells,
  };
}

export const cpuDedicatedHook: Hook = {
  name: CPU_DEDICATED,
  description: 'Re-pin vCPUs, the emulator thread and iothreads (and NUMA passthrough nodesets) for the target cpuset, as KubeVirt places them',
  appliesTo(doc: DomainXml): boolean {
    return doc.selectOne('cputune/vcpupin') !== undefined;
  },
  apply(doc: DomainXml, ctx: HookContext): Change[] {
    const signals = readGuestCpuSignals(doc);
    const plan = planPinning(pinningRequestFor(signals, ctx));
    const edit = new Editor();
    const cputune = doc.selectOne('cputune');
    const placed = cputune ? placementForThisTarget(cputune, plan, ctx.cpuset) : undefined;
    if (cputune) writeCputune(cputune, plan, edit);
    const numatune = doc.selectOne('numatune');
    if (signals.numaPassthrough && numatune) writeNumatune(numatune, plan, edit);
    if (placed) markCorrections(edit.changes, placed, plan, signals, ctx);
    return edit.changes;
  },
};
