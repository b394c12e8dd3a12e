/**
 * PUBLIC API CONTRACT of the lossless domain XML module (implementation pending).
 * Other modules code against exactly these signatures.
 *
 * - DomainXml.parse(text, {maxBytes}) throws XmlError (src/errors.ts) for malformed XML
 *   (with line/column), DOCTYPE/entity declarations, input above maxBytes (default 4 MiB),
 *   or a root other than <domain>.
 * - serialize() with no edit returns `text` byte for byte.
 * - Edits rewrite only the spans they touch; new elements copy surrounding indentation
 *   and quote style. Values passed to edits are plain text (the module escapes them);
 *   values returned by attr()/text() are decoded.
 */
import { XmlError } from '../errors.js';

export const DEFAULT_MAX_XML_BYTES = 4 * 1024 * 1024;

export interface ParseOptions {
  maxBytes?: number;
}

/** Spec for a new element. Attribute order is kept as given. */
export interface NewElement {
  name: string;
  attrs?: Array<[string, string]> | Record<string, string>;
  text?: string;
  children?: NewElement[];
}

export interface InsertPosition {
  before?: XmlElement;
  after?: XmlElement;
}

export declare class XmlElement {
  readonly name: string;
  readonly parent: XmlElement | null;
  /** Decoded attribute value, or undefined. */
  attr(name: string): string | undefined;
  /** Attribute names in source order. */
  attrNames(): string[];
  /** Child elements, optionally only those with this name, in document order. */
  elements(name?: string): XmlElement[];
  /** First child element with this name. */
  first(name: string): XmlElement | undefined;
  /** Decoded concatenation of direct text and CDATA children. */
  text(): string;
  /** Readable path for reports, e.g. `/domain/cputune/vcpupin[2]` (1-based among same-name siblings). */
  path(): string;

  setAttr(name: string, value: string): void;
  removeAttr(name: string): void;
  /** Replace all children with one text node. */
  setText(text: string): void;
  /** Insert a new child element (default: after the last child element), indented like its siblings. */
  insert(spec: NewElement, at?: InsertPosition): XmlElement;
  /** Remove this element (and the whitespace that only served to indent it). */
  remove(): void;
  /** Replace this element with a new one in the same place. */
  replaceWith(spec: NewElement): XmlElement;
}

export declare class DomainXml {
  readonly root: XmlElement;
  /** True once any edit was made. */
  readonly modified: boolean;
  static parse(text: string, opts?: ParseOptions): DomainXml;
  /** Byte-identical to the input outside edited spans. */
  serialize(): string;
  /** Elements at a slash path below the root, e.g. `cputune/vcpupin`. */
  select(path: string): XmlElement[];
  selectOne(path: string): XmlElement | undefined;
}

export function parseDomainXml(_text: string, _opts?: ParseOptions): DomainXml {
  throw new XmlError('src/xml not implemented yet', 'malformed');
}
