/**
 * Escaping of values written by edits and decoding of values read from the source.
 * Decoding follows what a conforming XML processor reports, so values compare equal to
 * what libvirt itself sees: line ends normalized to \n, and in attribute values literal
 * tab/newline become spaces (character references are kept as written).
 */
import { XmlError } from '../errors.js';
import { findForbiddenChar } from './chars.js';

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

const REF = /&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|apos|quot);/g;

function decodeRefs(raw: string): string {
  return raw.replace(REF, (_m, ref: string) => {
    if (ref.charCodeAt(0) !== 35 /* # */) return PREDEFINED[ref]!;
    const cp = ref.charCodeAt(1) === 120 /* x */ ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return String.fromCodePoint(cp);
  });
}

/** Decode character data (text) as written in the source; the parser has already validated references. */
export function decodeText(raw: string): string {
  if (raw.indexOf('\r') !== -1) raw = raw.replace(/\r\n?/g, '\n');
  return raw.indexOf('&') === -1 ? raw : decodeRefs(raw);
}

/** Decode CDATA content: only line-end normalization applies. */
export function decodeCdata(raw: string): string {
  return raw.indexOf('\r') === -1 ? raw : raw.replace(/\r\n?/g, '\n');
}

/** Decode an attribute value (without its quotes), applying attribute-value normalization. */
export function decodeAttr(raw: string): string {
  if (/[\t\n\r]/.test(raw)) raw = raw.replace(/\r\n|[\t\n\r]/g, ' ');
  return raw.indexOf('&') === -1 ? raw : decodeRefs(raw);
}

/** Refuse characters that cannot appear in an XML 1.0 document in any form. */
export function assertRepresentable(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new XmlError(`${what} must be a string, got ${typeof value}`, 'edit');
  const bad = findForbiddenChar(value);
  if (bad !== -1) {
    const code = value.charCodeAt(bad).toString(16).toUpperCase().padStart(4, '0');
    throw new XmlError(`${what} contains U+${code}, which XML 1.0 cannot represent`, 'edit');
  }
  return value;
}

const TEXT_SPECIAL = /[&<>\r]/g;
const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };

/** Escape text content; \r as a reference so it survives line-end normalization. */
export function escapeText(value: string): string {
  return value.replace(TEXT_SPECIAL, (c) => TEXT_ESCAPES[c]!);
}

const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};
const ATTR_SPECIAL_SQ = /[&<>'\t\n\r]/g;
const ATTR_SPECIAL_DQ = /[&<>"\t\n\r]/g;

/** Escape an attribute value for the given quote; whitespace controls as references so normalization keeps them. */
export function escapeAttr(value: string, quote: '"' | "'"): string {
  return value.replace(quote === "'" ? ATTR_SPECIAL_SQ : ATTR_SPECIAL_DQ, (c) => ATTR_ESCAPES[c]!);
}
