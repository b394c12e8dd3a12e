/**
 * The CPU-dedicated placement algorithm (docs/hooks.md), as a pure function over plain data.
 *
 * It reproduces KubeVirt's own placement so that a VM migrated by this hook is pinned exactly as
 * KubeVirt would have pinned it had the VM started on the target: same host-core walk, same
 * full/fragmented split, same three fill phases, same spare-thread order for iothreads and the
 * emulator, same plain-iothread rules. The domain XML side (reading signals, writing pins) lives in
 * cpu-dedicated.ts; nothing here knows about XML.
 */
import { HookRefusal } from '../errors.js';
import { formatCpuList } from '../topology/cpulist.js';

export const CPU_DEDICATED = 'cpu-dedicated';

/** The target host, reduced to what placement needs. */
export interface PinningHost {
  /** NUMA cells in order; each cell's CPUs ascending (memory-only cells have none). */
  cells: ReadonlyArray<{ id: number; cpus: readonly number[] }>;
  /** Thread siblings of each CPU (ascending, including the CPU itself). Missing = no siblings. */
  siblings: ReadonlyMap<number, readonly number[]>;
}

export interface PinningRequest {
  /** Guest threads per core (`<topology threads>`, default 1). */
  threadsPerCore: number;
  /** Ids of the vCPUs to pin, ascending: the enabled ones when some are hot-unplugged. */
  vcpus: readonly number[];
  /** The compute container's cpuset, as the cgroup lists it (ascending). */
  cpuset: readonly number[];
  host: PinningHost;
  /** NUMA passthrough: a guest core may never straddle two host cells (no phase 3). */
  numaPassthrough: boolean;
  /** CPUs of the isolated emulator thread: 0 (not isolated), 1, or 2 (even-parity option). */
  emulatorCpus: number;
  /** Iothread ids to place, and whether they form KubeVirt's supplemental pool. */
  iothreads?: { ids: readonly number[]; supplemental: boolean };
  /** Guest NUMA cells (`<cpu><numa><cell>`) with the vCPU ids each holds. */
  guestCells?: ReadonlyArray<{ id: number; vcpus: readonly number[] }>;
}

/** Which rule of docs/hooks.md (steps 5–6) placed the iothreads (for reports). */
export type IothreadRule = 'supplemental' | 'with-emulator' | 'one-cpu-each' | 'balanced-slices';

export interface PinningPlan {
  /** vCPU id → one host CPU. */
  vcpuPins: Map<number, number>;
  /** Host CPUs of the isolated emulator thread, in the order they were taken. */
  emulator: number[] | undefined;
  /** Iothread id → host CPUs. */
  iothreadPins: Map<number, number[]>;
  iothreadRule: IothreadRule | undefined;
  /** Host cells that hold at least one vCPU, in host order (numatune memory nodeset). */
  hostCellsUsed: number[];
  /** Guest cell id → host cells holding its vCPUs (numatune memnode nodeset). */
  guestCellHostCells: Map<number, number[]>;
}

/** One host NUMA cell's share of the cpuset, consumed as placement proceeds. */
class CellPool {
  /** Cores with at least `t` usable threads, each a list of threads in sibling order. */
  full: number[][] = [];
  /** Threads of smaller cores, and leftovers of cores that dropped below `t`. */
  fragmented: number[] = [];

  constructor(readonly id: number, private readonly t: number) {}

  addCore(threads: number[]): void {
    if (threads.length >= this.t) this.full.push(threads);
    else this.fragmented.push(...threads);
  }

  /** Phase 1: `t` threads of the first full core. */
  takeFromFullCore(): number[] | undefined {
    const core = this.full[0];
    if (!core) return undefined;
    return this.takeFromHead(core, this.t);
  }

  /** Phase 2: `t` threads of this cell's fragmented list, if it has that many. */
  takeFragmentedCore(): number[] | undefined {
    if (this.fragmented.length < this.t) return undefined;
    return this.fragmented.splice(0, this.t);
  }

  /** Phase 3: up to `n` fragmented threads. */
  takeFragmentedUpTo(n: number): number[] {
    return this.fragmented.splice(0, Math.min(n, this.fragmented.length));
  }

  /** A spare thread: fragmented first, else the head of the first full core. */
  takeThread(): number | undefined {
    if (this.fragmented.length > 0) return this.fragmented.shift();
    const core = this.full[0];
    return core ? this.takeFromHead(core, 1)[0] : undefined;
  }

  get isEmpty(): boolean {
    return this.fragmented.length === 0 && this.full.length === 0;
  }

  get size(): number {
    return this.fragmented.length + this.full.reduce((n, core) => n + core.length, 0);
  }

  /** Take `n` threads from the head of the first full core; the rest stays full or is fragmented. */
  private takeFromHead(core: number[], n: number): number[] {
    const taken = core.splice(0, n);
    if (core.length < this.t) {
      this.full.shift();
      this.fragmented.push(...core);
    }
    return taken;
  }
}

/**
 * Step 1 + 2: host cores per cell, filtered to the cpuset, split into full and fragmented.
 * Exported for tests.
 */
export function buildCellPools(host: PinningHost, cpuset: readonly number[], threadsPerCore: number): CellPool[] {
  const allowed = new Set(cpuset);
  const seen = new Set<number>();
  return host.cells.map((cell) => {
    const pool = new CellPool(cell.id, threadsPerCore);
    for (const cpu of cell.cpus) {
      if (seen.has(cpu)) continue;
      const siblings = host.siblings.get(cpu) ?? [cpu];
      const core: number[] = [];
      for (const s of siblings.length ? siblings : [cpu]) {
        seen.add(s);
        if (allowed.has(s)) core.push(s);
      }
      seen.add(cpu);
      pool.addCore(core);
    }
    return pool;
  });
}

/** Step 3: fill `cores` guest cores of `t` threads; returns the picked threads and the cores left unfilled. */
function fillGuestCores(pools: CellPool[], cores: number, t: number, crossCells: boolean): { threads: number[]; unfilled: number } {
  const threads: number[] = [];
  let left = cores;
  const phase = (take: (p: CellPool) => number[] | undefined): void => {
    for (const pool of pools) {
      while (left > 0) {
        const chunk = take(pool);
        if (!chunk) break;
        threads.push(...chunk);
        left--;
      }
    }
  };
  phase((p) => p.takeFromFullCore());
  if (left > 0) phase((p) => p.takeFragmentedCore());
  if (left > 0 && crossCells) {
    // Phase 3 pools the leftovers of all cells: a guest core may now straddle cells.
    let need = left * t;
    for (const pool of pools) {
      if (need === 0) break;
      const chunk = pool.takeFragmentedUpTo(need);
      threads.push(...chunk);
      need -= chunk.length;
    }
    left = Math.ceil(need / t);
  }
  return { threads, unfilled: left };
}

function takeSpareThread(pools: CellPool[]): number | undefined {
  for (const pool of pools) if (!pool.isEmpty) return pool.takeThread();
  return undefined;
}

/** The plain-iothread rules of docs/hooks.md step 6 (no supplemental pool). */
function plainIothreadPins(ids: readonly number[], vcpuCount: number, cpuset: readonly number[], emulator: number[] | undefined): { rule: IothreadRule; pins: Map<number, number[]> } {
  const pins = new Map<number, number[]>();
  if (emulator) {
    // Iothread 1 shares the isolated emulator's CPUs; KubeVirt leaves the other iothreads unpinned.
    if (ids.includes(1)) pins.set(1, [...emulator]);
    return { rule: 'with-emulator', pins };
  }
  if (ids.length >= vcpuCount) {
    for (const id of ids) pins.set(id, [cpuset[id % vcpuCount] as number]);
    return { rule: 'one-cpu-each', pins };
  }
  // Balanced contiguous slices of the raw cpuset list: 3 iothreads over 8 vCPUs → 3, 3, 2 CPUs.
  const base = Math.floor(vcpuCount / ids.length);
  const larger = vcpuCount % ids.length;
  let start = 0;
  ids.forEach((id, i) => {
    const size = base + (i < larger ? 1 : 0);
    pins.set(id, cpuset.slice(start, start + size));
    start += size;
  });
  return { rule: 'balanced-slices', pins };
}

function cellOf(host: PinningHost): Map<number, number> {
  const map = new Map<number, number>();
  for (const cell of host.cells) for (const cpu of cell.cpus) map.set(cpu, cell.id);
  return map;
}

function describeCells(pools: CellPool[]): string {
  return pools.filter((p) => p.size > 0).map((p) => `cell ${p.id}: ${p.size}`).join(', ') || 'none';
}

/** The placement steps 1–7 of docs/hooks.md (`cpu-dedicated`). Throws HookRefusal when the guest cannot be placed on this cpuset. */
export function planPinning(req: PinningRequest): PinningPlan {
  const t = req.threadsPerCore;
  if (!Number.isInteger(t) || t < 1) throw new HookRefusal(CPU_DEDICATED, `guest threads per core must be a positive integer, got ${t}`);
  const n = req.vcpus.length;
  const guestCores = Math.ceil(n / t);
  const pools = buildCellPools(req.host, req.cpuset, t);
  const usable = pools.reduce((sum, p) => sum + p.size, 0);
  const cpusetText = formatCpuList([...req.cpuset]) || '(empty)';

  // Each refusal KubeVirt's own CPU pool would make (virt-launcher's vcpu converter, FitCores)
  // starts with KubeVirt's words, so the searches admins already use find it; our more precise
  // detail follows after the colon.
  const { threads, unfilled } = fillGuestCores(pools, guestCores, t, !req.numaPassthrough);
  if (unfilled > 0) {
    if (req.numaPassthrough && usable >= guestCores * t) {
      throw new HookRefusal(
        CPU_DEDICATED,
        `could not fit ${unfilled} core(s) without crossing numa cell boundaries for individual cores: ` +
          `${unfilled} of ${guestCores} guest core(s) of ${t} thread(s) do not fit in one host cell each (NUMA passthrough is strict); ` +
          `usable CPUs of cpuset ${cpusetText} by host cell: ${describeCells(buildCellPools(req.host, req.cpuset, t))}`,
      );
    }
    throw new HookRefusal(
      CPU_DEDICATED,
      `not enough exclusive threads provided, could not fit ${unfilled} core(s): ${n} vCPU(s) need ${guestCores} core(s) of ${t} thread(s), ` +
        `the target cpuset ${cpusetText} has ${usable} usable CPU(s)`,
    );
  }

  const vcpuPins = new Map<number, number>();
  req.vcpus.forEach((id, i) => vcpuPins.set(id, threads[i] as number));

  // `kubevirt` is KubeVirt's wording for the same shortage (its emulator and iothread pinning).
  const spare = (what: string, kubevirt: string): number => {
    const cpu = takeSpareThread(pools);
    if (cpu === undefined) {
      throw new HookRefusal(
        CPU_DEDICATED,
        `${kubevirt}: not enough exclusive CPUs: no spare CPU left for ${what} after pinning ${n} vCPU(s) (target cpuset ${cpusetText}, ${usable} usable)`,
      );
    }
    return cpu;
  };

  // Step 5: the supplemental pool takes its spare threads before the emulator does.
  const iothreadPins = new Map<number, number[]>();
  let iothreadRule: IothreadRule | undefined;
  const iothreads = req.iothreads && req.iothreads.ids.length > 0 ? req.iothreads : undefined;
  if (iothreads?.supplemental) {
    for (const id of iothreads.ids) iothreadPins.set(id, [spare(`iothread ${id} (supplemental pool)`, 'no CPU allocated for the iothread')]);
    iothreadRule = 'supplemental';
  }

  // Step 6: the isolated emulator thread.
  let emulator: number[] | undefined;
  if (req.emulatorCpus > 0) {
    emulator = [];
    for (let i = 0; i < req.emulatorCpus; i++) emulator.push(
      spare(
        req.emulatorCpus > 1 ? `emulator thread CPU ${i + 1} of ${req.emulatorCpus}` : 'the emulator thread',
        i === 0 ? 'no CPU allocated for the emulation thread' : 'no second CPU allocated for the emulation thread',
      ),
    );
  }

  // Step 7: plain iothreads.
  if (iothreads && !iothreads.supplemental) {
    const plain = plainIothreadPins(iothreads.ids, n, req.cpuset, emulator);
    iothreadRule = plain.rule;
    for (const [id, cpus] of plain.pins) iothreadPins.set(id, cpus);
  }

  // Step 8: which host cells the vCPUs landed in, and where each guest cell's vCPUs are.
  const cells = cellOf(req.host);
  const usedSet = new Set<number>();
  for (const cpu of vcpuPins.values()) {
    const cell = cells.get(cpu);
    if (cell !== undefined) usedSet.add(cell);
  }
  const hostCellsUsed = req.host.cells.map((c) => c.id).filter((id) => usedSet.has(id));
  const guestCellHostCells = new Map<number, number[]>();
  for (const guestCell of req.guestCells ?? []) {
    const hostCells = new Set<number>();
    for (const vcpu of guestCell.vcpus) {
      const cpu = vcpuPins.get(vcpu);
      const cell = cpu === undefined ? undefined : cells.get(cpu);
      if (cell !== undefined) hostCells.add(cell);
    }
    // A guest cell with no pinned vCPU (e.g. all hot-unplugged) may use any cell the guest uses.
    guestCellHostCells.set(guestCell.id, hostCells.size ? hostCellsUsed.filter((id) => hostCells.has(id)) : [...hostCellsUsed]);
  }

  return { vcpuPins, emulator, iothreadPins, iothreadRule, hostCellsUsed, guestCellHostCells };
}

/** Adapter from the topology module's HostTopology. */
export function pinningHostFrom(host: { cells: ReadonlyArray<{ id: number; cpus: readonly number[] }>; cpus: ReadonlyMap<number, { siblings: readonly number[] }> }): PinningHost {
  const siblings = new Map<number, readonly number[]>();
  for (const [id, cpu] of host.cpus) siblings.set(id, cpu.siblings);
  return { cells: host.cells, siblings };
}
