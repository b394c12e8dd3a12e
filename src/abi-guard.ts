/**
 * ABI guard: the chain's output may differ from its input only where libvirt lets a migration
 * hook change the domain (docs/kubevirt.md §6):
 *   - anything inside <cputune>, <numatune>, <description>, <metadata> (top level), including
 *     whether they exist;
 *   - the path attributes (file, dev, dir) of a disk's <source> elements.
 * Everything else — vCPU count and topology, guest NUMA cells, memory, devices, name, uuid,
 * features — must be identical, or the chain refuses with an AbiViolation naming the element.
 *
 * How: before the hooks run, snapshot the input tree as one line per element (pre-order, with
 * depth, name, attributes and text, allowed parts masked). After, re-parse the serialized output
 * — which also proves it is well-formed — snapshot it the same way and compare line by line.
 * Messages name elements and attributes, never values: a domain carries VNC/SPICE passwords.
 */
import { AbiViolation } from './errors.js';
import type { DomainXml, XmlElement } from './xml/index.js';

/** Top-level elements a hook may add, remove or rewrite freely. */
export const MUTABLE_SUBTREES: ReadonlySet<string> = new Set(['cputune', 'numatune', 'description', 'metadata']);
/** Attributes of a disk <source> (at any depth inside <disk>) whose values may change. */
export const MUTABLE_DISK_SOURCE_ATTRS: ReadonlySet<string> = new Set(['file', 'dev', 'dir']);

export interface AbiSnapshot {
  /** One signature per ABI-relevant element, in document order. */
  readonly lines: string[];
  /** The elements behind `lines`, to name the culprit on a mismatch. */
  readonly elements: XmlElement[];
}

// Field and attribute separators: control characters XML 1.0 cannot contain.
const SEP = '\u0000';
const ATTR_SEP = '\u0001';

function signature(el: XmlElement, depth: number, inDisk: boolean): string {
  const names = el.attrNames();
  const maskPaths = inDisk && el.name === 'source';
  let attrs = '';
  if (names.length > 0) {
    // Attribute order carries no meaning to libvirt; compare them sorted.
    const sorted = names.length > 1 ? [...names].sort() : names;
    for (const n of sorted) attrs += `${n}=${maskPaths && MUTABLE_DISK_SOURCE_ATTRS.has(n) ? '*' : (el.attr(n) ?? '')}${ATTR_SEP}`;
  }
  const children = el.elements();
  // Whitespace between child elements is layout, not content (it moves when a hook inserts a pin).
  const text = children.length > 0 ? el.text().trim() : el.text();
  return `${depth}${SEP}${el.name}${SEP}${attrs}${SEP}${text}`;
}

export function abiSnapshot(doc: DomainXml): AbiSnapshot {
  const lines: string[] = [];
  const elements: XmlElement[] = [];
  const visit = (el: XmlElement, depth: number, inDisk: boolean): void => {
    lines.push(signature(el, depth, inDisk));
    elements.push(el);
    for (const child of el.elements()) {
      if (depth === 0 && MUTABLE_SUBTREES.has(child.name)) continue;
      visit(child, depth + 1, inDisk || (depth === 1 && child.name === 'disk' && el.name === 'devices'));
    }
  };
  visit(doc.root, 0, false);
  return { lines, elements };
}

/** What differs between two signature lines, in words (never values). */
function describe(before: string, after: string): string {
  const [bd, bn, ba = '', bt] = before.split(SEP);
  const [ad, an, aa = '', at] = after.split(SEP);
  if (bd !== ad || bn !== an) return `element <${bn}> became <${an}> (elements were added, removed or moved)`;
  if (ba !== aa) {
    const attrMap = (s: string): Map<string, string> => new Map(s.split(ATTR_SEP).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const b = attrMap(ba);
    const a = attrMap(aa);
    const changed = [...new Set([...b.keys(), ...a.keys()])].filter((k) => b.get(k) !== a.get(k));
    return `attribute${changed.length > 1 ? 's' : ''} ${changed.map((k) => `'${k}'`).join(', ')} changed`;
  }
  if (bt !== at) return 'text content changed';
  return 'changed';
}

/**
 * Throws AbiViolation if `after` (the re-parsed output) differs from the input snapshot outside
 * the mutable parts.
 */
export function assertSameAbi(before: AbiSnapshot, after: DomainXml): void {
  const now = abiSnapshot(after);
  const n = Math.min(before.lines.length, now.lines.length);
  for (let i = 0; i < n; i++) {
    if (before.lines[i] !== now.lines[i]) {
      const el = now.elements[i] as XmlElement;
      throw new AbiViolation(el.path(), `${describe(before.lines[i] as string, now.lines[i] as string)}; libvirt only lets a migration hook change <cputune>, <numatune>, disk source paths, <description> and <metadata>`);
    }
  }
  if (before.lines.length !== now.lines.length) {
    const longer = before.lines.length > now.lines.length ? before : now;
    const el = longer.elements[n] as XmlElement;
    const verb = longer === before ? 'was removed' : 'was added';
    throw new AbiViolation(el.path(), `element ${verb}; libvirt only lets a migration hook change <cputune>, <numatune>, disk source paths, <description> and <metadata>`);
  }
}
