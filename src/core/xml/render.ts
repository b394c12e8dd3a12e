/**
 * Renders a NewElement spec to XML text in a given layout (newline, indentation, quote).
 * The result is then parsed by the strict tokenizer, so a bad spec can never produce
 * a malformed document; the checks here exist to give a clear message first.
 */
import { XmlError } from '../errors.js';
import { isQName } from './chars.js';
import { assertRepresentable, escapeAttr, escapeText } from './escape.js';

/** Spec for a new element. Attribute order is kept as given. */
export interface NewElement {
  name: string;
  attrs?: Array<[string, string]> | Record<string, string>;
  text?: string;
  children?: NewElement[];
}

export type Quote = '"' | "'";

export interface Layout {
  /** Newline before each child line; '' renders children inline. */
  nl: string;
  /** Indentation of the element being rendered (its children get indent + step). */
  indent: string;
  step: string;
  quote: Quote;
}

export function attrEntries(attrs: NewElement['attrs']): Array<[string, string]> {
  if (attrs === undefined) return [];
  if (Array.isArray(attrs)) return attrs;
  if (typeof attrs !== 'object' || attrs === null) throw new XmlError('NewElement.attrs must be an array of pairs or an object', 'edit');
  return Object.entries(attrs);
}

export function assertElementName(name: unknown): string {
  if (typeof name !== 'string' || !isQName(name)) {
    throw new XmlError(`invalid element name ${JSON.stringify(name)}`, 'edit');
  }
  return name;
}

export function assertAttrName(name: unknown): string {
  if (typeof name !== 'string' || !isQName(name)) {
    throw new XmlError(`invalid attribute name ${JSON.stringify(name)}`, 'edit');
  }
  return name;
}

export function renderAttr(name: string, value: string, quote: Quote): string {
  return ` ${name}=${quote}${escapeAttr(assertRepresentable(value, `value of attribute ${name}`), quote)}${quote}`;
}

export function renderElement(spec: NewElement, layout: Layout): string {
  if (typeof spec !== 'object' || spec === null) throw new XmlError('NewElement must be an object', 'edit');
  const name = assertElementName(spec.name);
  let out = '<' + name;
  const seen = new Set<string>();
  for (const entry of attrEntries(spec.attrs)) {
    const [attrName, value] = entry;
    assertAttrName(attrName);
    if (seen.has(attrName)) throw new XmlError(`duplicate attribute ${attrName} on new element <${name}>`, 'edit');
    seen.add(attrName);
    out += renderAttr(attrName, value, layout.quote);
  }
  const children = spec.children ?? [];
  if (!Array.isArray(children)) throw new XmlError(`NewElement.children of <${name}> must be an array`, 'edit');
  if (spec.text !== undefined && children.length > 0) {
    throw new XmlError(`new element <${name}> cannot have both text and children`, 'edit');
  }
  if (spec.text !== undefined) {
    return `${out}>${escapeText(assertRepresentable(spec.text, `text of <${name}>`))}</${name}>`;
  }
  if (children.length === 0) return out + '/>';
  const inner: Layout = { ...layout, indent: layout.indent + layout.step };
  out += '>';
  for (const child of children) {
    if (layout.nl !== '') out += layout.nl + inner.indent;
    out += renderElement(child, inner);
  }
  if (layout.nl !== '') out += layout.nl + layout.indent;
  return out + `</${name}>`;
}
