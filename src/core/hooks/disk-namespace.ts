/**
 * disk-namespace: a decentralized live migration (KubeVirt 1.6+, between namespaces or clusters)
 * can give the VM another namespace and another name. Two paths in the domain carry that
 * identity (docs/hooks.md, "disk-namespace", cites KubeVirt's converter):
 *   - the cloud-init ISOs `<base>/<namespace>/<vmi>/noCloud.iso|configdrive.iso`, as the source of
 *     a file `<disk>`, with `<base>` = /var/run/kubevirt-ephemeral-disks/cloud-init-data (what
 *     virt-launcher uses) or /var/run/libvirt/cloud-init-dir (the package default, in converter
 *     test data);
 *   - the EFI NVRAM `<os><nvram>…/nvram/<vmi>_VARS.fd</nvram>` (the name only).
 * Every other KubeVirt disk path (PVC, DataVolume, hostDisk, containerDisk, emptyDisk,
 * ConfigMap/Secret/ServiceAccount/downwardAPI ISOs, CBT overlays) embeds neither, and block
 * devices (`dev=`) and network disks are named by the volume: all are left alone.
 *
 * The facts, all read on the target:
 *   - target identity: the incoming `<name>`, which libvirt already renamed to the migration's
 *     DestName `<target namespace>_<target VMI>`; cross-checked against the name libvirt called
 *     the hook with, this pod's namespace and the VMI name the webhook passed;
 *   - source identity: the identity-bearing paths themselves, cross-checked between them.
 * `--source-namespace` / `--target-namespace` replace what is read (CLI, tests).
 *
 * Idempotent whoever did part of the job: a namespace segment that already shows the target (the
 * 1.6/1.7 source's first-substring replace, upstream's 1.9+ DiskSourcePathHook, or our own
 * earlier run) counts as done, and only the name is then moved. When the source identity cannot
 * be read unambiguously the hook changes nothing and says why in a note (chain report, log line).
 */
import { InputError } from '../errors.js';
import { isDnsLabel, isDnsSubdomain } from '../names.js';
import type { DomainXml } from '../xml/index.js';
import type { Change, Hook, HookContext } from './types.js';

export const DISK_NAMESPACE = 'disk-namespace';

export interface VmIdentity {
  namespace: string;
  name: string;
}

/** Where KubeVirt writes cloud-init ISOs: virt-launcher's directory, then the package default. */
export const CLOUD_INIT_BASES: readonly string[] = ['/var/run/kubevirt-ephemeral-disks/cloud-init-data', '/var/run/libvirt/cloud-init-dir'];
const CLOUD_INIT_FILES: ReadonlySet<string> = new Set(['noCloud.iso', 'configdrive.iso']);
const CLOUD_INIT_DIR_NAMES: ReadonlySet<string> = new Set(CLOUD_INIT_BASES.map((b) => b.slice(b.lastIndexOf('/') + 1)));
const NVRAM_SUFFIX = '_VARS.fd';

/** One path in the domain that embeds the VM's identity. */
interface IdentityPath {
  kind: 'cloud-init' | 'nvram';
  /** For the change report. */
  where: string;
  value: string;
  /** Cloud-init only: the namespace segment. */
  namespace?: string;
  name: string;
  /** The new value for a target identity. */
  rewrite(to: VmIdentity): string;
  write(value: string): void;
}

/**
 * `<base>/<ns>/<vmi>/<file>` with a KubeVirt cloud-init file name, or undefined. `tgtNamespace`
 * null: any base (the first look, before the target is known).
 */
function cloudInitPath(value: string, tgtNamespace: string | null): Omit<IdentityPath, 'where' | 'write'> | undefined {
  const parts = value.split('/');
  if (parts.length < 5) return undefined;
  const file = parts[parts.length - 1] as string;
  const name = parts[parts.length - 2] as string;
  const namespace = parts[parts.length - 3] as string;
  const base = parts.slice(0, -3).join('/');
  if (!CLOUD_INIT_FILES.has(file) || !isDnsLabel(namespace) || !isDnsSubdomain(name)) return undefined;
  const canonical = tgtNamespace === null ? base : canonicalBase(base, namespace, tgtNamespace);
  if (canonical === undefined) return undefined;
  return { kind: 'cloud-init', value, namespace, name, rewrite: (to) => `${canonical}/${to.namespace}/${to.name}/${file}` };
}

/**
 * The cloud-init directory a path's `base` stands for. A known base stands for itself. A base
 * that is a known one with the source namespace replaced once — KubeVirt 1.6/1.7's source
 * replaces the first bare substring, upstream's hook the first `/<ns>/` segment, and either hits
 * the base before the namespace segment when the namespace also spells a part of it (e.g. "run")
 * — stands for that known base again. Any other directory named like one is kept as it is.
 */
function canonicalBase(base: string, segNamespace: string, tgtNamespace: string): string | undefined {
  if (CLOUD_INIT_BASES.includes(base)) return base;
  if (segNamespace !== tgtNamespace) {
    for (const known of CLOUD_INIT_BASES) {
      const bySubstring = known.replace(segNamespace, tgtNamespace);
      const bySegment = `${known}/`.replace(`/${segNamespace}/`, `/${tgtNamespace}/`).slice(0, -1);
      if ((bySubstring !== known && bySubstring === base) || (bySegment !== known && bySegment === base)) return known;
    }
  }
  return CLOUD_INIT_DIR_NAMES.has(base.slice(base.lastIndexOf('/') + 1)) ? base : undefined;
}

/** `<dir>/nvram/<vmi>_VARS.fd`, or undefined. */
function nvramPath(value: string): Omit<IdentityPath, 'where' | 'write'> | undefined {
  const slash = value.lastIndexOf('/');
  const dir = value.slice(0, slash);
  const file = value.slice(slash + 1);
  if (slash <= 0 || !dir.endsWith('/nvram') || !file.endsWith(NVRAM_SUFFIX)) return undefined;
  const name = file.slice(0, -NVRAM_SUFFIX.length);
  if (!isDnsSubdomain(name)) return undefined;
  return { kind: 'nvram', value, name, rewrite: (to) => `${dir}/${to.name}${NVRAM_SUFFIX}` };
}

/** Every identity-bearing path of the domain, in document order (disks, then the NVRAM). */
function identityPaths(doc: DomainXml, tgtNamespace: string | null): IdentityPath[] {
  const out: IdentityPath[] = [];
  doc.select('devices/disk').forEach((disk, i) => {
    const source = disk.first('source');
    const file = source?.attr('file');
    if (!source || file === undefined) return;
    const found = cloudInitPath(file, tgtNamespace);
    if (!found) return;
    const dev = disk.first('target')?.attr('dev');
    const where = `${dev !== undefined ? `/domain/devices/disk[@dev='${dev}']` : `/domain/devices/disk[${i + 1}]`}/source/@file`;
    out.push({ ...found, where, write: (v) => source.setAttr('file', v) });
  });
  const nvram = doc.selectOne('os/nvram');
  if (nvram) {
    const source = nvram.first('source');
    const file = source?.attr('file');
    if (source && file !== undefined) {
      const found = nvramPath(file);
      if (found) out.push({ ...found, where: '/domain/os/nvram/source/@file', write: (v) => source.setAttr('file', v) });
    } else if (nvram.elements().length === 0) {
      const text = nvram.text();
      const trimmed = text.trim();
      const found = nvramPath(trimmed);
      if (found) out.push({ ...found, value: trimmed, where: '/domain/os/nvram', write: (v) => nvram.setText(text.replace(trimmed, v)) });
    }
  }
  return out;
}

function checked(what: string, value: string | undefined, rule: (v: string) => boolean, kind: string): string | undefined {
  if (value !== undefined && !rule(value)) throw new InputError(`${what} "${value}" is not a valid Kubernetes ${kind}`);
  return value;
}

type Reading = { to: VmIdentity } | { unclear: string };

/** The target identity from `<name>`, cross-checked with what libvirt, the pod and the webhook say. */
function readTarget(doc: DomainXml, ctx: HookContext): Reading {
  const override = checked('target namespace', ctx.targetNamespace, isDnsLabel, 'namespace name');
  const podNamespace = checked('pod namespace', ctx.podNamespace, isDnsLabel, 'namespace name');
  const vmiName = checked('VMI name', ctx.vmiName, isDnsSubdomain, 'object name');
  const domain = doc.selectOne('name')?.text().trim() ?? '';
  if (ctx.domainName !== undefined && ctx.domainName !== domain) {
    return { unclear: `libvirt called the hook for domain "${ctx.domainName}" but the domain XML is named "${domain}"` };
  }
  const cut = domain.indexOf('_');
  const ns = cut > 0 ? domain.slice(0, cut) : '';
  const vm = cut > 0 ? domain.slice(cut + 1) : '';
  const parsed = isDnsLabel(ns) && isDnsSubdomain(vm) ? { namespace: ns, name: vm } : undefined;
  if (parsed && override === undefined && podNamespace !== undefined && podNamespace !== parsed.namespace) {
    return { unclear: `the domain name "${domain}" says namespace ${parsed.namespace}, but this pod runs in namespace ${podNamespace}` };
  }
  if (parsed && vmiName !== undefined && vmiName !== parsed.name) {
    return { unclear: `the domain name "${domain}" says VMI ${parsed.name}, but this pod runs VMI ${vmiName}` };
  }
  const namespace = override ?? parsed?.namespace ?? podNamespace;
  const name = parsed?.name ?? vmiName;
  if (namespace === undefined || name === undefined) {
    return { unclear: `cannot read the target identity: the domain name "${domain}" is not <namespace>_<vmi>, and no pod namespace and VMI name were given` };
  }
  return { to: { namespace, name } };
}

function distinct(values: Iterable<string | undefined>, except: string): string[] {
  return [...new Set([...values].filter((v): v is string => v !== undefined && v !== except))];
}

type Plan = { kind: 'nothing' } | { kind: 'unclear'; why: string } | { kind: 'move'; to: VmIdentity; paths: IdentityPath[] };

/**
 * What this domain needs: nothing (no identity-bearing path, or all already at the target), a
 * move, or — when the facts disagree — nothing, with the reason.
 */
export function planMove(doc: DomainXml, ctx: HookContext): Plan {
  const sourceOverride = checked('source namespace', ctx.sourceNamespace, isDnsLabel, 'namespace name');
  if (identityPaths(doc, null).length === 0) return { kind: 'nothing' };
  const target = readTarget(doc, ctx);
  if ('unclear' in target) return { kind: 'unclear', why: target.unclear };
  const { to } = target;
  const paths = identityPaths(doc, to.namespace);
  const show = (p: IdentityPath): string => `${p.value} (${p.kind})`;

  const namespaces = distinct(paths.map((p) => p.namespace), to.namespace);
  if (sourceOverride !== undefined) {
    const stray = paths.find((p) => p.namespace !== undefined && p.namespace !== to.namespace && p.namespace !== sourceOverride);
    if (stray) return { kind: 'unclear', why: `${show(stray)} is under namespace ${stray.namespace ?? ''}, neither the given source namespace ${sourceOverride} nor the target ${to.namespace}` };
  } else if (namespaces.length > 1) {
    return { kind: 'unclear', why: `the source identity is ambiguous: the paths name the namespaces ${namespaces.join(', ')} (${paths.map(show).join(', ')})` };
  }
  const names = distinct(paths.map((p) => p.name), to.name);
  if (names.length > 1) {
    return { kind: 'unclear', why: `the source identity is ambiguous: the paths name the VMIs ${names.join(', ')} (${paths.map(show).join(', ')})` };
  }
  const moving = paths.filter((p) => p.rewrite(to) !== p.value);
  return moving.length === 0 ? { kind: 'nothing' } : { kind: 'move', to, paths: moving };
}

export const diskNamespaceHook: Hook = {
  name: DISK_NAMESPACE,
  description: 'Decentralized migration: move the namespace and VMI name in cloud-init ISO and NVRAM paths to the target identity',
  appliesTo(doc: DomainXml, ctx: HookContext): boolean {
    return planMove(doc, ctx).kind !== 'nothing';
  },
  apply(doc: DomainXml, ctx: HookContext, note?: (message: string) => void): Change[] {
    const plan = planMove(doc, ctx);
    if (plan.kind === 'unclear') {
      note?.(`left the domain unchanged: ${plan.why}`);
      return [];
    }
    if (plan.kind === 'nothing') return [];
    return plan.paths.map((p) => {
      const after = p.rewrite(plan.to);
      p.write(after);
      return { hook: DISK_NAMESPACE, path: p.where, before: p.value, after };
    });
  },
};

/** For tests: where the identity-bearing paths of a domain are (report paths). */
export function identityBearingPaths(doc: DomainXml): string[] {
  return identityPaths(doc, null).map((p) => p.where);
}

