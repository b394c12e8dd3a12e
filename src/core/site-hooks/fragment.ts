/**
 * appendXML fragments: one well-formed element (namespaces declared inside it), turned into the
 * editor's NewElement so that it is laid out like its new siblings, and compared structurally so
 * that appending what is already there is a no-op (a second run changes nothing).
 */
import { DomainXml, type NewElement, type XmlElement } from '../xml/index.js';
import { forbiddenInFragment } from './allow.js';

export const MAX_FRAGMENT_CHARS = 16 * 1024;

function toSpec(el: XmlElement): NewElement {
  const attrs: Array<[string, string]> = el.attrNames().map((n) => [n, el.attr(n) ?? '']);
  const why = forbiddenInFragment(el.name, attrs);
  if (why !== undefined) throw new Error(why);
  const kids = el.elements();
  for (const c of el.children) {
    if (c.kind === 'comment' || c.kind === 'pi') throw new Error(`appendXML: comments and processing instructions are not supported (in <${el.name}>)`);
  }
  const spec: NewElement = { name: el.name };
  if (attrs.length > 0) spec.attrs = attrs;
  if (kids.length > 0) {
    if (el.text().trim() !== '') throw new Error(`appendXML: <${el.name}> mixes text and elements, which the editor cannot lay out`);
    spec.children = kids.map(toSpec);
  } else if (el.text() !== '') {
    spec.text = el.text();
  }
  return spec;
}

/** Parse a fragment (facts already substituted). Throws Error with the parser's message. */
export function parseFragmentSpec(xml: string): NewElement {
  if (xml.length > MAX_FRAGMENT_CHARS) throw new Error(`appendXML is longer than ${MAX_FRAGMENT_CHARS} characters`);
  let doc: DomainXml;
  try {
    doc = DomainXml.parse(`<domain>${xml}</domain>`);
  } catch (err) {
    throw new Error(`appendXML is not a well-formed fragment: ${(err as Error).message.replace(/ \(line \d+, column \d+\)$/, '')}`);
  }
  const root = doc.root;
  const els = root.elements();
  for (const c of root.children) {
    if (c.kind === 'text' && c.raw().trim() !== '') throw new Error('appendXML must be one element, not text');
    if (c.kind === 'comment' || c.kind === 'pi' || c.kind === 'cdata') throw new Error('appendXML must be one element (no comments, CDATA or processing instructions around it)');
  }
  if (els.length !== 1) throw new Error(`appendXML must be exactly one element, got ${els.length}`);
  return toSpec(els[0]!);
}

/** Structural key: names, attributes (sorted, decoded), text (layout whitespace ignored). */
export function specKey(spec: NewElement): string {
  const attrs = (Array.isArray(spec.attrs) ? spec.attrs : Object.entries(spec.attrs ?? {})).map(([n, v]) => `${n}=${JSON.stringify(v)}`).sort();
  const inner = spec.children && spec.children.length > 0 ? spec.children.map(specKey).join('') : JSON.stringify(spec.text ?? '');
  return `<${spec.name} ${attrs.join(' ')}>${inner}</>`;
}

export function elementKey(el: XmlElement): string {
  const attrs = el.attrNames().map((n) => `${n}=${JSON.stringify(el.attr(n) ?? '')}`).sort();
  const kids = el.elements();
  const inner = kids.length > 0 ? kids.map(elementKey).join('') : JSON.stringify(el.text());
  return `<${el.name} ${attrs.join(' ')}>${inner}</>`;
}
