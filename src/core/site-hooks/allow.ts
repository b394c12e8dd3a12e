/**
 * What a SiteHook may edit: an allow-list of path shapes, and targets that are refused whatever
 * the allow-list says because they would let a SiteHook out of the sandbox (libvirt's ABI check
 * does not stop them). Checked when a SiteHook is validated (admission, CLI, server start) and
 * again on every matched element at migration time.
 *
 * A shape is a path with its predicates dropped: `devices/disk/source/@file`. An allow entry is a
 * shape pattern whose segments are a name, `*` (any name without a prefix), `*:*` (any name with
 * one) or `@name`; it allows the shape it matches and everything below it. An edit's shape is its
 * `select`'s, and for `appendXML` the select's plus the fragment's root element.
 */
export const DEFAULT_ALLOW: readonly string[] = [
  // Repoint a file disk (the ABI guard lets disk source paths change).
  'devices/disk/source/@file',
  // Drop or retune CPU shares (inside <cputune>, which a migration hook may rewrite).
  'cputune/shares',
  // Per-disk I/O limits: libvirt's ABI check of a disk does not cover <iotune>.
  'devices/disk/iotune',
  // Site annotations: children of <metadata> in a namespace of their own.
  'metadata/*:*',
];

/** Element names an edit may never touch or add, at any depth (local names). */
export const FORBIDDEN_ELEMENTS: ReadonlySet<string> = new Set(['seclabel', 'commandline', 'override']);
/** Devices whose every part is off limits: display listen addresses, character devices' sources. */
export const FORBIDDEN_DEVICES: ReadonlySet<string> = new Set(['graphics', 'serial', 'channel', 'console', 'parallel']);
/** Elements an appendXML fragment may not contain anywhere (new host resources or escape hatches). */
export const FORBIDDEN_IN_FRAGMENTS: ReadonlySet<string> = new Set([
  ...FORBIDDEN_ELEMENTS,
  ...FORBIDDEN_DEVICES,
  'disk',
  'hostdev',
  'filesystem',
  'interface',
  'listen',
]);
export const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

export interface AllowList {
  readonly patterns: readonly string[][];
  readonly source: readonly string[];
}

const SEGMENT = /^(@?[A-Za-z_][-A-Za-z0-9_.]*(:[A-Za-z_][-A-Za-z0-9_.]*)?|\*|\*:\*|@\*)$/;

/** The default list plus `extra` (from --site-hook-allow). Throws Error for a malformed pattern. */
export function allowList(extra: readonly string[] = []): AllowList {
  const source = [...DEFAULT_ALLOW, ...extra.filter((p) => !DEFAULT_ALLOW.includes(p))];
  const patterns = source.map((p) => {
    const segs = p.replace(/^\/domain\//, '').split('/');
    segs.forEach((s, i) => {
      if (!SEGMENT.test(s) || (s.startsWith('@') && i !== segs.length - 1)) {
        throw new Error(`--site-hook-allow "${p}": each segment is a name, *, *:* or a final @attribute`);
      }
    });
    return segs;
  });
  return { patterns, source };
}

function segmentMatches(pattern: string, seg: string): boolean {
  if (pattern === seg) return true;
  if (pattern === '@*') return seg.startsWith('@');
  if (pattern === '*') return !seg.startsWith('@') && !seg.includes(':');
  if (pattern === '*:*') return !seg.startsWith('@') && seg.includes(':');
  return false;
}

export function isAllowed(list: AllowList, shape: readonly string[]): boolean {
  return list.patterns.some((p) => p.length <= shape.length && p.every((seg, i) => segmentMatches(seg, shape[i]!)));
}

const localName = (qname: string): string => qname.slice(qname.indexOf(':') + 1);

/** Why this shape is forbidden whatever the allow-list says, or undefined. */
export function forbiddenShape(shape: readonly string[]): string | undefined {
  if (shape.length === 0) return 'the <domain> element itself cannot be edited';
  const top = shape[0]!;
  if (top.includes(':')) return `<${top}> is a hypervisor extension outside <metadata> (qemu:commandline and the like can run anything on the host)`;
  for (const seg of shape) {
    if (seg.startsWith('@')) continue;
    if (FORBIDDEN_ELEMENTS.has(localName(seg))) return `<${seg}> is never editable (security labels and hypervisor overrides are the sandbox)`;
  }
  if (top === 'devices' && shape.length > 1) {
    const dev = shape[1]!;
    if (FORBIDDEN_DEVICES.has(dev)) return `<${dev}> devices are never editable (listen addresses and character device sources reach the network)`;
  }
  return undefined;
}

/** Why this appended element name is forbidden anywhere in a fragment, or undefined. */
export function forbiddenInFragment(qname: string, attrs: ReadonlyArray<[string, string]>): string | undefined {
  if (FORBIDDEN_IN_FRAGMENTS.has(localName(qname))) return `appendXML may not add <${qname}> (new devices, host resources, security labels or listen addresses)`;
  for (const [name, value] of attrs) {
    if ((name === 'xmlns' || name.startsWith('xmlns:')) && value === QEMU_NAMESPACE) return `appendXML may not use the QEMU namespace ${QEMU_NAMESPACE}`;
  }
  return undefined;
}
