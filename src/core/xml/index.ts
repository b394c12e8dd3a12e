/**
 * PUBLIC API of the lossless domain XML module. Other modules import only from here.
 *
 * - DomainXml.parse(text, {maxBytes}) throws XmlError (src/core/errors.ts) for malformed XML
 *   (with line/column), DOCTYPE/entity declarations, input above maxBytes (default 4 MiB,
 *   counted in UTF-8 bytes), or a root other than <domain>.
 * - serialize() with no edit returns `text` byte for byte.
 * - Edits rewrite only the spans they touch; new elements copy surrounding indentation
 *   and quote style. Values passed to edits are plain text (the module escapes them);
 *   values returned by attr()/text() are decoded.
 *
 * Layout: parse.ts (strict span tokenizer), node.ts (span tree, navigation, edits,
 * serialization), layout.ts (indentation/quote of new elements), render.ts (NewElement →
 * text), escape.ts, chars.ts, document.ts (DomainXml).
 */
export { DomainXml, parseDomainXml, DEFAULT_MAX_XML_BYTES, type ParseOptions } from './document.js';
export { XmlElement, type InsertPosition } from './node.js';
export { MAX_ATTRIBUTES_PER_ELEMENT, MAX_ELEMENTS } from './parse.js';
export type { NewElement } from './render.js';
