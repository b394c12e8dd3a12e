/**
 * ABI guard: the chain's output may differ from its input only where libvirt lets a migration
 * hook change the domain (docs/hooks.md, "The ABI guard"):
 *   - anything inside <cputune>, <numatune>, <description>, <metadata> (top level), including
 *     whether they exist;
 *   - the path attributes (file, dev, dir) of a disk's <source> elements;
 *   - the path of the EFI NVRAM file: the text of <os><nvram>, or the file attribute of its
 *     <source> (libvirt's ABI check compares the firmware, not where its variable store lives;
 *     the real-libvirt e2e test migrates a guest whose NVRAM path the hook moved);
 *   - a disk's <iotune> (I/O limits: libvirt's disk ABI check, virDomainDiskDefCheckABIStability,
 *     compares device, bus, target, serial, wwn, vendor, product and address, not the limits;
 *     the real-libvirt e2e test migrates a guest whose disk a site hook gave an <iotune>).
 * Everything else — vCPU count and topology, guest NUMA cells, memory, devices, name, uuid,
 * features — must be identical, or the chain refuses with an AbiViolation naming the element.
 *
 * How, cheaply: before the hooks run, remember the root's attributes and the source text of each
 * top-level element (slices of the input, no copying). Afterwards, a top-level element whose
 * serialized text is unchanged is byte-identical to input that already parsed, so it needs no
 * further look. Each changed one is re-parsed from the serialized output — proving the output
 * well-formed — and, unless it is a mutable subtree, walked in parallel with a parse of its old
 * text, element by element, with disk source paths masked. When top-level elements were added or
 * removed the whole output is re-parsed, so the text between them is proven well-formed too.
 * Messages name elements and attributes, never values: a domain carries VNC/SPICE passwords.
 */
import { AbiViolation } from './errors.js';
import { DomainXml, type XmlElement } from './xml/index.js';

/** Top-level elements a hook may add, remove or rewrite freely. */
export const MUTABLE_SUBTREES: ReadonlySet<string> = new Set(['cputune', 'numatune', 'description', 'metadata']);
/** Children of a top-level <devices><disk> that may be added, removed or rewritten. */
export const MUTABLE_DISK_CHILDREN: ReadonlySet<string> = new Set(['iotune']);
/** Attributes of a disk <source> (at any depth inside <disk>) whose values may change. */
export const MUTABLE_DISK_SOURCE_ATTRS: ReadonlySet<string> = new Set(['file', 'dev', 'dir']);

const ALLOWED = 'libvirt only lets a migration hook change <cputune>, <numatune>, disk source paths and I/O limits, the NVRAM path, <description> and <metadata>';

/** Which paths compareTrees masks below an element: a disk's source paths, or the NVRAM path. */
type Mask = 'none' | 'disk' | 'nvram';

export interface AbiSnapshot {
  readonly rootAttrs: string;
  /** `<domain …>` carrying the root's namespace declarations, to re-parse one top-level element on its own. */
  readonly wrapperOpen: string;
  readonly children: ReadonlyArray<{ readonly el: XmlElement; readonly text: string }>;
}

function attrsKey(el: XmlElement, maskPaths = false): string {
  const names = el.attrNames();
  if (names.length === 0) return '';
  // Attribute order carries no meaning to libvirt; compare them sorted.
  const sorted = names.length > 1 ? [...names].sort() : names;
  let key = '';
  for (const n of sorted) key += `${n}=${maskPaths && MUTABLE_DISK_SOURCE_ATTRS.has(n) ? '*' : (el.attr(n) ?? '')}\u0001`;
  return key;
}

function quoteAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

export function abiSnapshot(doc: DomainXml): AbiSnapshot {
  const root = doc.root;
  const ns = root.attrNames().filter((n) => n === 'xmlns' || n.startsWith('xmlns:'));
  return {
    rootAttrs: attrsKey(root),
    wrapperOpen: `<domain${ns.map((n) => ` ${n}="${quoteAttr(root.attr(n) ?? '')}"`).join('')}>`,
    children: root.elements().map((el) => ({ el, text: el.outerXml() })),
  };
}

/** Parse one top-level element's text on its own (inside a namespace-carrying <domain>). */
function parseAlone(snapshot: AbiSnapshot, text: string): XmlElement {
  const doc = DomainXml.parse(`${snapshot.wrapperOpen}${text}</domain>`, { maxBytes: Number.MAX_SAFE_INTEGER });
  return doc.root.elements()[0] as XmlElement;
}

/** Parallel pre-order walk of two versions of one element; throws at the first ABI difference. */
function compareTrees(before: XmlElement, after: XmlElement, where: Mask): void {
  if (before.name !== after.name) throw new AbiViolation(after.path(), `element <${before.name}> became <${after.name}>; ${ALLOWED}`);
  const inDisk = where === 'disk';
  const mask = where !== 'none' && after.name === 'source';
  const ba = attrsKey(before, mask);
  const aa = attrsKey(after, mask);
  if (ba !== aa) {
    const changed = [...new Set([...before.attrNames(), ...after.attrNames()])].filter(
      (n) => before.attr(n) !== after.attr(n) && !(mask && MUTABLE_DISK_SOURCE_ATTRS.has(n) && before.attr(n) !== undefined && after.attr(n) !== undefined),
    );
    throw new AbiViolation(after.path(), `attribute${changed.length > 1 ? 's' : ''} ${changed.map((n) => `'${n}'`).join(', ')} changed; ${ALLOWED}`);
  }
  const isDisk = inDisk && after.name === 'disk' && after.parent?.name === 'devices' && after.parent.parent?.parent === null;
  const bc = isDisk ? before.elements().filter((e) => !MUTABLE_DISK_CHILDREN.has(e.name)) : before.elements();
  const ac = isDisk ? after.elements().filter((e) => !MUTABLE_DISK_CHILDREN.has(e.name)) : after.elements();
  // Whitespace between child elements is layout, not content.
  const bt = bc.length > 0 ? before.text().trim() : before.text();
  const at = ac.length > 0 ? after.text().trim() : after.text();
  // The text of <os><nvram> is the NVRAM path.
  const nvramText = where === 'nvram' && after.name === 'nvram' && bc.length === 0 && ac.length === 0;
  if (bt !== at && !nvramText) throw new AbiViolation(after.path(), `text content changed; ${ALLOWED}`);
  const n = Math.min(bc.length, ac.length);
  const top = after.parent?.parent === null;
  for (let i = 0; i < n; i++) {
    const child = ac[i] as XmlElement;
    const next: Mask = inDisk || (child.name === 'disk' && after.name === 'devices' && top) ? 'disk' : where === 'nvram' || (child.name === 'nvram' && after.name === 'os' && top) ? 'nvram' : 'none';
    compareTrees(bc[i] as XmlElement, child, next);
  }
  if (bc.length !== ac.length) {
    const extra = bc.length > ac.length ? (bc[n] as XmlElement) : (ac[n] as XmlElement);
    const where = bc.length > ac.length ? `${after.path()}/${extra.name}` : extra.path();
    throw new AbiViolation(where, `element was ${bc.length > ac.length ? 'removed' : 'added'}; ${ALLOWED}`);
  }
}

/**
 * Throws AbiViolation if the edited document differs from the snapshot outside the mutable
 * parts (and XmlError should the serialized output not be well-formed). `serialized` is
 * `doc.serialize()`, passed in to avoid serializing twice.
 */
export function assertSameAbi(before: AbiSnapshot, doc: DomainXml, serialized: string): void {
  const root = doc.root;
  if (attrsKey(root) !== before.rootAttrs) throw new AbiViolation('/domain', `attributes of <domain> changed; ${ALLOWED}`);

  const now = root.elements();
  const nowSet = new Set(now);
  const beforeEls = new Set(before.children.map((c) => c.el));
  let structureChanged = false;
  for (const { el } of before.children) {
    if (nowSet.has(el)) continue;
    structureChanged = true;
    if (!MUTABLE_SUBTREES.has(el.name)) throw new AbiViolation(`/domain/${el.name}`, `element was removed; ${ALLOWED}`);
  }
  for (const el of now) {
    if (beforeEls.has(el)) continue;
    structureChanged = true;
    if (!MUTABLE_SUBTREES.has(el.name)) throw new AbiViolation(el.path(), `element was added; ${ALLOWED}`);
  }
  const kept = now.filter((el) => !MUTABLE_SUBTREES.has(el.name));
  const keptBefore = before.children.filter((c) => !MUTABLE_SUBTREES.has(c.el.name));
  keptBefore.forEach((c, i) => {
    if (kept[i] !== c.el) throw new AbiViolation(c.el.path(), `element was moved; ${ALLOWED}`);
  });

  if (structureChanged) {
    // Text between top-level elements changed too: prove the whole output well-formed.
    DomainXml.parse(serialized, { maxBytes: Number.MAX_SAFE_INTEGER });
  }
  const oldText = new Map(before.children.map((c) => [c.el, c.text]));
  for (const el of now) {
    const text = el.outerXml();
    const old = oldText.get(el);
    if (text === old) continue; // byte-identical to input that already parsed
    const reparsed = parseAlone(before, text);
    if (old !== undefined && !MUTABLE_SUBTREES.has(el.name)) compareTrees(parseAlone(before, old), reparsed, 'none');
  }
}

/**
 * The guard without the shortcut: walk two whole documents in parallel (mutable subtrees
 * skipped). The chain uses assertSameAbi; this is its reference, for tests and benchmarks.
 */
export function compareDomains(before: DomainXml, after: DomainXml): void {
  const strip = (doc: DomainXml): XmlElement[] => doc.root.elements().filter((el) => !MUTABLE_SUBTREES.has(el.name));
  if (attrsKey(before.root) !== attrsKey(after.root)) throw new AbiViolation('/domain', `attributes of <domain> changed; ${ALLOWED}`);
  const b = strip(before);
  const a = strip(after);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) compareTrees(b[i] as XmlElement, a[i] as XmlElement, 'none');
  if (a.length !== b.length) {
    const extra = (a.length > b.length ? a[n] : b[n]) as XmlElement;
    throw new AbiViolation(`/domain/${extra.name}`, `element was ${a.length > b.length ? 'added' : 'removed'}; ${ALLOWED}`);
  }
}
