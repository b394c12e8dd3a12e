/**
 * XML 1.0 (5th edition) character classes: names, whitespace and the characters a
 * document may contain at all. Table lookups for ASCII keep the tokenizer's hot loop cheap.
 */

const NAME_START = 1;
const NAME_CHAR = 2;

const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_:]/.test(ch)) ASCII[c] = NAME_START | NAME_CHAR;
  else if (/[-.0-9]/.test(ch)) ASCII[c] = NAME_CHAR;
}

function isNonAsciiNameStart(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    (c >= 0x200c && c <= 0x200d) ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  );
}

function isNonAsciiNameChar(c: number): boolean {
  return isNonAsciiNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || (c >= 0x203f && c <= 0x2040);
}

/** Length (1 or 2 UTF-16 units) of the name character at `pos`, or 0 if there is none. */
function nameUnitLength(s: string, pos: number, start: boolean): number {
  const c = s.charCodeAt(pos);
  if (c < 128) return ASCII[c]! & (start ? NAME_START : NAME_CHAR) ? 1 : 0;
  // Supplementary planes #x10000-#xEFFFF are name characters: high surrogates D800-DB7F.
  if (c >= 0xd800 && c <= 0xdb7f) {
    const lo = s.charCodeAt(pos + 1);
    return lo >= 0xdc00 && lo <= 0xdfff ? 2 : 0;
  }
  if (c !== c) return 0; // NaN: past the end
  return (start ? isNonAsciiNameStart(c) : isNonAsciiNameChar(c)) ? 1 : 0;
}

/** End offset of the XML Name starting at `pos` (equal to `pos` when there is none). */
export function scanName(s: string, pos: number): number {
  let n = nameUnitLength(s, pos, true);
  if (n === 0) return pos;
  let p = pos + n;
  for (;;) {
    const c = s.charCodeAt(p);
    if (c < 128) {
      if (ASCII[c]! & NAME_CHAR) {
        p++;
        continue;
      }
      return p;
    }
    n = nameUnitLength(s, p, false);
    if (n === 0) return p;
    p += n;
  }
}

/** True if the character at `pos` continues a name (used to check an end tag's name ends there). */
export function isNameCharAt(s: string, pos: number): boolean {
  return nameUnitLength(s, pos, false) !== 0;
}

export function isXmlName(name: string): boolean {
  return name.length > 0 && scanName(name, 0) === name.length;
}

/** A qualified name in the Namespaces-in-XML sense: at most one colon, not at either end. */
export function isQName(name: string): boolean {
  if (!isXmlName(name)) return false;
  const colon = name.indexOf(':');
  return colon === -1 || (colon > 0 && colon < name.length - 1 && name.indexOf(':', colon + 1) === -1);
}

export function isXmlWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** Characters XML 1.0 cannot carry at all, not even as character references. */
// eslint-disable-next-line no-control-regex -- finding forbidden control characters is the point
const FORBIDDEN_CHAR = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Offset of the first character XML 1.0 forbids (including lone surrogates), or -1. */
export function findForbiddenChar(s: string): number {
  const m = FORBIDDEN_CHAR.exec(s);
  // isWellFormed (native, ~0.1 µs) rules out lone surrogates before the slower regex runs.
  const lone = (s as unknown as { isWellFormed(): boolean }).isWellFormed() ? null : LONE_SURROGATE.exec(s);
  if (m === null) return lone === null ? -1 : lone.index;
  return lone === null ? m.index : Math.min(m.index, lone.index);
}

/** Code point allowed by the XML `Char` production (checked for character references). */
export function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}
