/**
 * Where new elements go and how they look: indentation copied from the whitespace before
 * sibling elements (or derived from the parent's own indentation), the file's newline
 * (CRLF files stay CRLF), and the quote style of the nearest tags that have attributes.
 */
import type { XmlElement, XmlNode } from './node.js';
import type { Layout, Quote } from './render.js';

const WHITESPACE_ONLY = /^[ \t\r\n]+$/;

export function isWhitespaceLeaf(n: XmlNode): boolean {
  return n.kind === 'text' && WHITESPACE_ONLY.test(n.src.slice(n.start, n.end));
}

interface LineIndent {
  nl: string;
  indent: string;
}

/** The newline and indentation a whitespace run ends with, or null when it has no newline. */
function lastLine(ws: string): LineIndent | null {
  const i = ws.lastIndexOf('\n');
  if (i === -1) return null;
  return { nl: ws.charCodeAt(i - 1) === 13 ? '\r\n' : '\n', indent: ws.slice(i + 1) };
}

function rootOf(el: XmlElement): XmlElement {
  let r = el;
  while (r.parentNode !== null) r = r.parentNode;
  return r;
}

/** How `el` itself is indented: from the whitespace before it, or the document's newline for the root. */
function elementIndent(el: XmlElement): LineIndent | null {
  const parent = el.parentNode;
  if (parent === null) {
    const i = el.src.indexOf('\n');
    return i === -1 ? null : { nl: el.src.charCodeAt(i - 1) === 13 ? '\r\n' : '\n', indent: '' };
  }
  const kids = parent.children;
  const prev = kids[kids.indexOf(el) - 1];
  return prev !== undefined && isWhitespaceLeaf(prev) ? lastLine(prev.src.slice(prev.start, prev.end)) : null;
}

/** The document's indentation unit, read from the root's first indented child; two spaces if none. */
function documentStep(el: XmlElement): string {
  const kids = rootOf(el).children;
  for (let i = 1; i < kids.length; i++) {
    const prev = kids[i - 1]!;
    if (kids[i]!.kind === 'element' && isWhitespaceLeaf(prev)) {
      const line = lastLine(prev.src.slice(prev.start, prev.end));
      if (line !== null && line.indent !== '') return line.indent;
    }
  }
  return '  ';
}

/** Indentation unit between `parent` and a child indented by `childIndent`. */
function stepBelow(parent: XmlElement | null, childIndent: string, anchor: XmlElement): string {
  const p = parent === null ? null : elementIndent(parent);
  const base = parent === null ? '' : p?.indent;
  if (base !== undefined && childIndent.length > base.length && childIndent.startsWith(base)) {
    return childIndent.slice(base.length);
  }
  return documentStep(anchor);
}

/** Quote of the nearest element with attributes: `ref` and its siblings outward, then ancestors. */
export function quoteNear(parent: XmlElement | null, ref: XmlElement | undefined): Quote {
  if (parent === null) return ref?.attrs[0]?.quote ?? "'";
  const kids = parent.children;
  const at = ref === undefined ? kids.length : kids.indexOf(ref);
  for (let d = 0; d <= kids.length; d++) {
    for (const n of [kids[at - d], kids[at + d]]) {
      if (n !== undefined && n.kind === 'element' && n.attrs.length > 0) return n.attrs[0]!.quote;
    }
  }
  for (let e: XmlElement | null = parent; e !== null; e = e.parentNode) {
    if (e.attrs.length > 0) return e.attrs[0]!.quote;
  }
  return "'"; // libvirt's own style
}

export interface InsertionPlan {
  /** Splice into parent.children at `index`, removing `removeCount`, adding before + [el] + after. */
  index: number;
  removeCount: number;
  before: string[];
  after: string[];
  layout: Layout;
}

const INLINE = { nl: '', indent: '', step: '' };

/**
 * Plan an insert into `parent` next to the child at `refIndex` (-1: no child element).
 * The whitespace before the reference sibling is copied next to the new element.
 */
export function insertionLayout(parent: XmlElement, refIndex: number, beforeRef: boolean): InsertionPlan {
  const kids = parent.children;
  if (refIndex === -1) {
    const content = kids.filter((k) => !isWhitespaceLeaf(k));
    if (content.some((k) => k.kind === 'text')) {
      // Mixed content: whitespace there is data, so add nothing around the element.
      return { index: kids.length, removeCount: 0, before: [], after: [], layout: { ...INLINE, quote: quoteNear(parent, undefined) } };
    }
    if (content.length > 0) refIndex = kids.lastIndexOf(content[content.length - 1]!);
  }
  if (refIndex === -1) {
    // Empty parent (`<x/>`, `<x></x>` or whitespace only): open it on its own lines.
    const quote = quoteNear(parent, undefined);
    const own = elementIndent(parent);
    if (own === null) return { index: kids.length, removeCount: 0, before: [], after: [], layout: { ...INLINE, quote } };
    const step = parent.parentNode === null ? documentStep(parent) : stepBelow(parent.parentNode, own.indent, parent);
    const indent = own.indent + step;
    return {
      index: 0,
      removeCount: kids.length,
      before: [own.nl + indent],
      after: [own.nl + own.indent],
      layout: { nl: own.nl, indent, step, quote },
    };
  }
  const ref = kids[refIndex]!;
  const prev = kids[refIndex - 1];
  const ws = prev !== undefined && isWhitespaceLeaf(prev) ? prev.src.slice(prev.start, prev.end) : null;
  const line = ws === null ? null : lastLine(ws);
  const quote = quoteNear(parent, ref.kind === 'element' ? ref : undefined);
  const layout: Layout =
    line === null ? { ...INLINE, quote } : { nl: line.nl, indent: line.indent, step: stepBelow(parent, line.indent, parent), quote };
  const copy = ws === null ? [] : [ws];
  return beforeRef
    ? { index: refIndex, removeCount: 0, before: [], after: copy, layout }
    : { index: refIndex + 1, removeCount: 0, before: copy, after: [], layout };
}

/** Layout for an element that takes the place of `el`. */
export function elementLayout(el: XmlElement): Layout {
  const quote = el.attrs[0]?.quote ?? quoteNear(el.parentNode, el);
  const line = elementIndent(el);
  if (line === null) return { ...INLINE, quote };
  return { nl: line.nl, indent: line.indent, step: stepBelow(el.parentNode, line.indent, el), quote };
}
