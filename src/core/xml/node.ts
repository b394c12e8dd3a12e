/**
 * The span tree. Every node points into the text it was parsed from (`src`, `start`,
 * `end`), so an untouched node serializes as an exact slice of the input. Edits mark the
 * touched element dirty (its start tag and/or its content) and every ancestor's content
 * dirty; serialization rebuilds only along those dirty paths.
 */
import { XmlError } from '../errors.js';
import { decodeAttr, decodeCdata, decodeText, escapeAttr, escapeText, assertRepresentable } from './escape.js';
import { assertAttrName, type NewElement, type Quote } from './render.js';
import { elementLayout, insertionLayout, quoteNear, isWhitespaceLeaf } from './layout.js';
import { renderElement } from './render.js';

export type LeafKind = 'text' | 'cdata' | 'comment' | 'pi';

/** Text, CDATA section, comment or processing instruction: never edited in place, only replaced. */
export class XmlLeaf {
  constructor(
    readonly kind: LeafKind,
    readonly src: string,
    readonly start: number,
    readonly end: number,
  ) {}

  raw(): string {
    return this.src.slice(this.start, this.end);
  }
}

/** A synthesized leaf whose text is its whole source. */
export function leafOf(kind: LeafKind, text: string): XmlLeaf {
  return new XmlLeaf(kind, text, 0, text.length);
}

export type XmlNode = XmlElement | XmlLeaf;

/**
 * One attribute as written. `leadStart` is where the whitespace before its name begins, so
 * `src.slice(leadStart, valueEnd + 1)` is the attribute's full original text.
 * After an edit, `rewritten` holds that full text instead.
 */
export class XmlAttr {
  rewritten: string | null = null;
  decoded: string | undefined = undefined;
  constructor(
    readonly name: string,
    readonly leadStart: number,
    readonly valueStart: number,
    readonly valueEnd: number,
    readonly quote: Quote,
  ) {}
}

/** What an element needs from its document; implemented by DomainXml. */
export interface DocumentContext {
  markModified(): void;
  /** Parse one rendered element (strictly) as a new child of `parent`. */
  parseFragment(xml: string, parent: XmlElement): XmlElement;
}

export interface InsertPosition {
  before?: XmlElement;
  after?: XmlElement;
}

const TAG_DIRTY = 1;
const CONTENT_DIRTY = 2;

export class XmlElement {
  readonly kind = 'element' as const;
  /** @internal Attributes in source order. */
  attrs: XmlAttr[] = [];
  /** @internal Child nodes in document order. */
  children: XmlNode[] = [];
  /** @internal Offset just past the start tag's `>` (or `/>`). */
  startTagEnd = 0;
  /** @internal Where the whitespace/`>`/`/>` after the last attribute begins. */
  tailStart = 0;
  /** @internal Offset of `</`, or -1 when the end tag must be synthesized (self-closing source). */
  endTagStart = -1;
  /** @internal Offset just past the element. */
  end = 0;
  /** @internal */
  selfClosing = false;
  /** @internal Replacement for the source tail once a self-closing tag became an open tag. */
  tailOverride: string | null = null;
  /** @internal TAG_DIRTY | CONTENT_DIRTY */
  dirty = 0;
  /** @internal Set once removed or replaced; edits on it would be lost, so they are refused. */
  detached = false;

  constructor(
    /** @internal */ readonly doc: DocumentContext,
    /** @internal */ public parentNode: XmlElement | null,
    /** @internal */ readonly src: string,
    /** @internal Offset of `<`. */ readonly start: number,
    readonly name: string,
  ) {}

  get parent(): XmlElement | null {
    return this.parentNode;
  }

  // ---------------------------------------------------------------- reading

  /** Decoded attribute value, or undefined. */
  attr(name: string): string | undefined {
    const a = this.findAttr(name);
    return a === undefined ? undefined : this.attrValue(a);
  }

  /** Attribute names in source order. */
  attrNames(): string[] {
    return this.attrs.map((a) => a.name);
  }

  /** Child elements, optionally only those with this name, in document order. */
  elements(name?: string): XmlElement[] {
    const out: XmlElement[] = [];
    for (const c of this.children) {
      if (c.kind === 'element' && (name === undefined || c.name === name)) out.push(c);
    }
    return out;
  }

  /** First child element with this name. */
  first(name: string): XmlElement | undefined {
    for (const c of this.children) {
      if (c.kind === 'element' && c.name === name) return c;
    }
    return undefined;
  }

  /** Decoded concatenation of direct text and CDATA children. */
  text(): string {
    let out = '';
    for (const c of this.children) {
      if (c.kind === 'text') out += decodeText(c.raw());
      else if (c.kind === 'cdata') out += decodeCdata(c.src.slice(c.start + 9, c.end - 3));
    }
    return out;
  }

  /** Readable path for reports, e.g. `/domain/cputune/vcpupin[2]` (index only when the name repeats). */
  path(): string {
    const parts: string[] = [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let el: XmlElement | null = this;
    while (el !== null) {
      const p: XmlElement | null = el.parentNode;
      let part = el.name;
      if (p !== null) {
        const same = p.elements(el.name);
        if (same.length > 1) part += `[${same.indexOf(el) + 1}]`;
      }
      parts.push(part);
      el = p;
    }
    return '/' + parts.reverse().join('/');
  }

  /** The element's current XML text (its original bytes when untouched). */
  outerXml(): string {
    return writeElement(this);
  }

  // ---------------------------------------------------------------- editing

  setAttr(name: string, value: string): void {
    this.assertEditable('setAttr');
    assertRepresentable(value, `value of attribute ${name}`);
    const a = this.findAttr(name);
    if (a !== undefined) {
      if (this.attrValue(a) === value) return;
      const keep = a.rewritten !== null ? a.rewritten.slice(0, a.rewritten.indexOf(a.quote) + 1) : this.src.slice(a.leadStart, a.valueStart);
      a.rewritten = keep + escapeAttr(value, a.quote) + a.quote;
      a.decoded = value;
    } else {
      assertAttrName(name);
      assertPrefixDeclared(this, name, 'attribute');
      const q = this.attrs.length > 0 ? this.attrs[0]!.quote : quoteNear(this.parentNode, this);
      const added = new XmlAttr(name, -1, -1, -1, q);
      added.rewritten = ` ${name}=${q}${escapeAttr(value, q)}${q}`;
      added.decoded = value;
      this.attrs.push(added);
    }
    this.touch(TAG_DIRTY);
  }

  removeAttr(name: string): void {
    this.assertEditable('removeAttr');
    const i = this.attrs.findIndex((a) => a.name === name);
    if (i === -1) return;
    this.attrs.splice(i, 1);
    this.touch(TAG_DIRTY);
  }

  /** Replace all children with one text node. */
  setText(text: string): void {
    this.assertEditable('setText');
    assertRepresentable(text, `text of <${this.name}>`);
    const onlyText = this.children.every((c) => c.kind === 'text' || c.kind === 'cdata');
    if (onlyText && this.text() === text) return;
    for (const c of this.children) if (c.kind === 'element') detach(c);
    this.children = text === '' ? [] : [leafOf('text', escapeText(text))];
    this.openSelfClosing();
    this.touch(CONTENT_DIRTY);
  }

  /** Insert a new child element (default: after the last child element), indented like its siblings. */
  insert(spec: NewElement, at?: InsertPosition): XmlElement {
    this.assertEditable('insert');
    if (at?.before !== undefined && at.after !== undefined) {
      throw new XmlError('insert: give either before or after, not both', 'edit');
    }
    const refEl = at?.before ?? at?.after;
    let refIndex: number;
    if (refEl !== undefined) {
      refIndex = this.children.indexOf(refEl);
      if (refIndex === -1) throw new XmlError(`insert: ${refEl.name} is not a child of ${this.path()}`, 'edit');
    } else {
      refIndex = -1;
      for (let i = this.children.length - 1; i >= 0; i--) {
        if (this.children[i]!.kind === 'element') {
          refIndex = i;
          break;
        }
      }
    }
    const plan = insertionLayout(this, refIndex, at?.before !== undefined);
    const el = this.doc.parseFragment(renderElement(spec, plan.layout), this);
    const ws = (raw: string): XmlLeaf => leafOf('text', raw);
    this.children.splice(plan.index, plan.removeCount, ...plan.before.map(ws), el, ...plan.after.map(ws));
    this.openSelfClosing();
    this.touch(CONTENT_DIRTY);
    return el;
  }

  /** Remove this element (and the whitespace that only served to indent it). */
  remove(): void {
    this.assertEditable('remove');
    const parent = this.requireParent('remove');
    const kids = parent.children;
    const i = kids.indexOf(this);
    const prev = kids[i - 1];
    const from = prev !== undefined && isWhitespaceLeaf(prev) ? i - 1 : i;
    kids.splice(from, i - from + 1);
    detach(this);
    parent.touch(CONTENT_DIRTY);
  }

  /** Replace this element with a new one in the same place. */
  replaceWith(spec: NewElement): XmlElement {
    this.assertEditable('replaceWith');
    const parent = this.requireParent('replaceWith');
    const layout = elementLayout(this);
    const el = this.doc.parseFragment(renderElement(spec, layout), parent);
    parent.children[parent.children.indexOf(this)] = el;
    detach(this);
    parent.touch(CONTENT_DIRTY);
    return el;
  }

  // ---------------------------------------------------------------- internals

  /** @internal */
  findAttr(name: string): XmlAttr | undefined {
    for (const a of this.attrs) if (a.name === name) return a;
    return undefined;
  }

  private attrValue(a: XmlAttr): string {
    if (a.decoded === undefined) a.decoded = decodeAttr(this.src.slice(a.valueStart, a.valueEnd));
    return a.decoded;
  }

  private assertEditable(op: string): void {
    if (this.detached) throw new XmlError(`${op}: <${this.name}> was removed from the document`, 'edit');
  }

  private requireParent(op: string): XmlElement {
    if (this.parentNode === null) throw new XmlError(`${op}: the root element <${this.name}> cannot be removed or replaced`, 'edit');
    return this.parentNode;
  }

  /** `<x/>` becomes `<x>` + content + `</x>` (whitespace before `/>` is dropped). */
  private openSelfClosing(): void {
    if (!this.selfClosing) return;
    this.selfClosing = false;
    this.tailOverride = '>';
    this.endTagStart = -1;
    this.dirty |= TAG_DIRTY;
  }

  private touch(flags: number): void {
    this.dirty |= flags;
    let p = this.parentNode;
    while (p !== null && (p.dirty & CONTENT_DIRTY) === 0) {
      p.dirty |= CONTENT_DIRTY;
      p = p.parentNode;
    }
    this.doc.markModified();
  }
}

function detach(el: XmlElement): void {
  el.detached = true;
  el.parentNode = null;
  for (const c of el.children) if (c.kind === 'element') detach(c);
}

/** Namespace prefixes must be declared on the element or an ancestor (xml and xmlns are built in). */
export function assertPrefixDeclared(el: XmlElement, qname: string, what: 'element' | 'attribute'): void {
  const colon = qname.indexOf(':');
  if (colon === -1) return;
  const prefix = qname.slice(0, colon);
  if (prefix === 'xml' || (prefix === 'xmlns' && what === 'attribute')) return;
  if (!isPrefixInScope(el, prefix)) {
    throw new XmlError(`namespace prefix ${prefix} of ${what} ${qname} is not declared`, 'edit');
  }
}

export function isPrefixInScope(el: XmlElement | null, prefix: string): boolean {
  const decl = 'xmlns:' + prefix;
  for (let e = el; e !== null; e = e.parentNode) if (e.findAttr(decl) !== undefined) return true;
  return false;
}

function startTag(el: XmlElement): string {
  let out = '<' + el.name;
  for (const a of el.attrs) out += a.rewritten ?? el.src.slice(a.leadStart, a.valueEnd + 1);
  return out + (el.tailOverride ?? el.src.slice(el.tailStart, el.startTagEnd));
}

/** Serialize an element: untouched subtrees are slices of their source. */
export function writeElement(el: XmlElement): string {
  if (el.dirty === 0) return el.src.slice(el.start, el.end);
  let out = el.dirty & TAG_DIRTY ? startTag(el) : el.src.slice(el.start, el.startTagEnd);
  if (el.selfClosing) return out;
  if (el.dirty & CONTENT_DIRTY) {
    for (const c of el.children) out += c.kind === 'element' ? writeElement(c) : c.src.slice(c.start, c.end);
  } else {
    out += el.src.slice(el.startTagEnd, el.endTagStart);
  }
  return out + (el.endTagStart >= 0 ? el.src.slice(el.endTagStart, el.end) : `</${el.name}>`);
}
