/**
 * Strict, position-keeping XML tokenizer that builds the span tree in one pass.
 *
 * Why not a library tokenizer: lossless span edits need the exact offsets of every
 * start tag, attribute (leading whitespace, name, quote, raw value), text run and end tag.
 * fast-xml-parser (used by the tests as an independent well-formedness oracle) reports no
 * offsets and, on this machine, its XMLValidator alone takes ~570 µs and XMLParser ~1 ms
 * for the 11 KB reference domain — over the whole chain budget of 320 µs. sax/saxes give
 * positions only per event (no raw attribute spans) and are several times slower than
 * this scanner, which uses indexOf for runs and a lookup table for names (~30-60 µs on
 * that domain). Domain XML needs no DTD and no entities, which keeps a strict
 * tokenizer small: everything outside XML 1.0 well-formedness + Namespaces is refused.
 */
import { XmlError } from '../errors.js';
import { findForbiddenChar, isNameCharAt, isXmlChar, scanName } from './chars.js';
import { XmlAttr, XmlElement, XmlLeaf, isPrefixInScope, type DocumentContext } from './node.js';

const LT = 60;
const GT = 62;
const SLASH = 47;
const BANG = 33;
const QMARK = 63;
const EQ = 61;
const SQUOTE = 39;
const DQUOTE = 34;
const HASH = 35;
const SEMI = 59;

/**
 * Bounds on what drives allocation, checked as the scan reaches them (before the node is built),
 * so a hostile document costs at most these, whatever its size. Real domains are far below:
 * KubeVirt's and libvirt's test domains have a few hundred elements and at most ~10 attributes on
 * one element; a 4096-vCPU domain with one <vcpupin> each has ~10,000 elements.
 */
export const MAX_ELEMENTS = 50_000;
export const MAX_ATTRIBUTES_PER_ELEMENT = 256;
/** Above this many attributes the duplicate check switches from a scan to a set (linear overall). */
const DUP_SCAN_MAX = 16;

const PREDEFINED_ENTITIES = new Set(['lt', 'gt', 'amp', 'apos', 'quot']);
const XML_DECL = /<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:'1\.[0-9]+'|"1\.[0-9]+")(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:'[A-Za-z][A-Za-z0-9._-]*'|"[A-Za-z][A-Za-z0-9._-]*"))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:'(?:yes|no)'|"(?:yes|no)"))?[ \t\r\n]*\?>/y;

/** 1-based line and column (in UTF-16 units) of an offset. */
export function lineColumn(s: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = s.indexOf('\n'); i !== -1 && i < offset; i = s.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function describe(s: string, pos: number): string {
  if (pos >= s.length) return 'end of input';
  const c = s.codePointAt(pos)!;
  return c > 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

function indexOrEnd(s: string, needle: string, from: number): number {
  const i = s.indexOf(needle, from);
  return i === -1 ? s.length : i;
}

class Tokenizer {
  /** Next occurrence at or after the scan point of `&`, `]]>` and `<`; amortizes indexOf to O(n). */
  private nextAmp = -1;
  private nextCdataEnd = -1;
  private nextLt = -1;
  private elements = 0;
  pos = 0;

  constructor(
    private readonly s: string,
    private readonly doc: DocumentContext,
  ) {}

  fail(offset: number, message: string, code: XmlError['code'] = 'malformed'): never {
    const { line, column } = lineColumn(this.s, offset);
    throw new XmlError(message, code, line, column);
  }

  private skipWs(p: number): number {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 32 || c === 10 || c === 9 || c === 13) p++;
      else return p;
    }
  }

  private name(p: number, what: string): number {
    const end = scanName(this.s, p);
    if (end === p) this.fail(p, `expected ${what}, found ${describe(this.s, p)}`);
    return end;
  }

  /** Validate every `&` reference in [a, b). */
  private checkRefs(a: number, b: number): void {
    const s = this.s;
    let i = this.nextAmp;
    if (i < a) i = this.nextAmp = indexOrEnd(s, '&', a);
    while (i < b) i = this.nextAmp = indexOrEnd(s, '&', this.reference(i));
  }

  /** Check the reference at `amp`; returns the offset after its `;`. */
  private reference(amp: number): number {
    const s = this.s;
    let p = amp + 1;
    if (s.charCodeAt(p) === HASH) {
      p++;
      const hex = s.charCodeAt(p) === 120; /* x */
      if (hex) p++;
      const digitsStart = p;
      let cp = 0;
      for (;;) {
        const c = s.charCodeAt(p);
        const d = c >= 48 && c <= 57 ? c - 48 : hex && c >= 97 && c <= 102 ? c - 87 : hex && c >= 65 && c <= 70 ? c - 55 : -1;
        if (d < 0) break;
        cp = Math.min(cp * (hex ? 16 : 10) + d, 0x110000);
        p++;
      }
      if (p === digitsStart || s.charCodeAt(p) !== SEMI) this.fail(amp, 'malformed character reference');
      if (!isXmlChar(cp)) this.fail(amp, `character reference ${s.slice(amp, p + 1)} is not an allowed XML character`);
      return p + 1;
    }
    const end = scanName(s, p);
    if (end === p || s.charCodeAt(end) !== SEMI) this.fail(amp, "'&' must be escaped as &amp; (not a valid reference)");
    const entity = s.slice(p, end);
    if (!PREDEFINED_ENTITIES.has(entity)) this.fail(amp, `undefined entity &${entity}; (only the five predefined entities are allowed)`);
    return end + 1;
  }

  /** Character data in [a, b): references valid, no `]]>`. */
  private checkText(a: number, b: number): void {
    let c = this.nextCdataEnd;
    if (c < a) c = this.nextCdataEnd = indexOrEnd(this.s, ']]>', a);
    if (c < b) this.fail(c, "']]>' is not allowed in text");
    this.checkRefs(a, b);
  }

  /** Comment, CDATA or declaration at `p` (which holds `<!`); returns the leaf or throws. */
  private bang(p: number, inElement: boolean): XmlLeaf {
    const s = this.s;
    if (s.startsWith('<!--', p)) {
      const close = s.indexOf('-->', p + 4);
      if (close === -1) this.fail(p, 'comment is not closed');
      const dashes = s.indexOf('--', p + 4);
      if (dashes < close) this.fail(dashes, "'--' is not allowed inside a comment");
      return new XmlLeaf('comment', s, p, close + 3);
    }
    if (s.startsWith('<![CDATA[', p)) {
      if (!inElement) this.fail(p, 'CDATA section outside the root element');
      const close = s.indexOf(']]>', p + 9);
      if (close === -1) this.fail(p, 'CDATA section is not closed');
      return new XmlLeaf('cdata', s, p, close + 3);
    }
    const decl = s.slice(p + 2, p + 9).toUpperCase();
    if (decl.startsWith('DOCTYPE')) {
      this.fail(p, 'DOCTYPE declarations are refused: a domain XML needs none, and they enable entity expansion (XXE, billion laughs)', 'doctype');
    }
    if (decl.startsWith('ENTITY')) {
      this.fail(p, 'entity declarations are refused (XXE, billion laughs)', 'doctype');
    }
    return this.fail(p, "expected a comment or CDATA section after '<!'");
  }

  /** Processing instruction at `p` (which holds `<?`). */
  private pi(p: number): XmlLeaf {
    const s = this.s;
    const targetEnd = this.name(p + 2, 'a processing instruction target');
    if (targetEnd - p - 2 === 3 && s.slice(p + 2, targetEnd).toLowerCase() === 'xml') {
      this.fail(p, 'the XML declaration is only allowed at the very start of the document');
    }
    let q = targetEnd;
    if (!s.startsWith('?>', q)) {
      const ws = this.skipWs(q);
      if (ws === q) this.fail(q, 'expected whitespace or ?> after the processing instruction target');
      q = ws;
    }
    const close = s.indexOf('?>', q);
    if (close === -1) this.fail(p, 'processing instruction is not closed');
    return new XmlLeaf('pi', s, p, close + 2);
  }

  /** Start tag at `p`; leaves `this.pos` after it. */
  private startTag(p: number, parent: XmlElement | null): XmlElement {
    const s = this.s;
    const nameEnd = this.name(p + 1, 'an element name');
    if (++this.elements > MAX_ELEMENTS) this.fail(p, `more than ${MAX_ELEMENTS} elements (the limit on elements in one document)`, 'too-large');
    const el = new XmlElement(this.doc, parent, s, p, s.slice(p + 1, nameEnd));
    let prefixed = el.name.indexOf(':') !== -1;
    let seen: Set<string> | undefined;
    let q = nameEnd;
    for (;;) {
      const wsStart = q;
      q = this.skipWs(q);
      const c = s.charCodeAt(q);
      if (c === GT) {
        el.tailStart = wsStart;
        el.startTagEnd = q + 1;
        break;
      }
      if (c === SLASH) {
        if (s.charCodeAt(q + 1) !== GT) this.fail(q + 1, `expected '>' after '/' in <${el.name}>`);
        el.tailStart = wsStart;
        el.startTagEnd = el.end = q + 2;
        el.selfClosing = true;
        break;
      }
      if (q >= s.length) this.fail(p, `start tag <${el.name}> is not closed`);
      if (q === wsStart) this.fail(q, `expected whitespace, '>' or '/>' in start tag <${el.name}>, found ${describe(s, q)}`);
      const attrEnd = scanName(s, q);
      if (attrEnd === q) this.fail(q, `expected an attribute name or '>' in <${el.name}>, found ${describe(s, q)}`);
      const attrName = s.slice(q, attrEnd);
      q = this.skipWs(attrEnd);
      if (s.charCodeAt(q) !== EQ) this.fail(q, `expected '=' after attribute ${attrName}`);
      q = this.skipWs(q + 1);
      const quote = s.charCodeAt(q);
      if (quote !== SQUOTE && quote !== DQUOTE) this.fail(q, `value of attribute ${attrName} must be quoted`);
      const vs = q + 1;
      const ve = s.indexOf(quote === SQUOTE ? "'" : '"', vs);
      if (ve === -1) this.fail(q, `value of attribute ${attrName} is not closed`);
      let lt = this.nextLt;
      if (lt < vs) lt = this.nextLt = indexOrEnd(s, '<', vs);
      if (lt < ve) this.fail(lt, `'<' is not allowed in the value of attribute ${attrName}`);
      this.checkRefs(vs, ve);
      if (el.attrs.length >= MAX_ATTRIBUTES_PER_ELEMENT) {
        this.fail(wsStart, `more than ${MAX_ATTRIBUTES_PER_ELEMENT} attributes on <${el.name}> (the limit on attributes per element)`, 'too-large');
      }
      if (el.attrs.length < DUP_SCAN_MAX) {
        for (const a of el.attrs) if (a.name === attrName) this.fail(wsStart, `duplicate attribute ${attrName} on <${el.name}>`);
      } else {
        seen ??= new Set(el.attrs.map((a) => a.name));
        if (seen.has(attrName)) this.fail(wsStart, `duplicate attribute ${attrName} on <${el.name}>`);
        seen.add(attrName);
      }
      if (!prefixed && attrName.indexOf(':') !== -1) prefixed = true;
      el.attrs.push(new XmlAttr(attrName, wsStart, vs, ve, quote === SQUOTE ? "'" : '"'));
      q = ve + 1;
    }
    if (prefixed) this.checkNamespaces(el, p);
    this.pos = el.startTagEnd;
    return el;
  }

  /** Namespaces in XML: QNames, prefixes declared in scope, no rebinding of xmlns. */
  private checkNamespaces(el: XmlElement, at: number): void {
    const names = [el.name, ...el.attrs.map((a) => a.name)];
    names.forEach((qname, i) => {
      const colon = qname.indexOf(':');
      if (colon === -1) return;
      if (colon === 0 || colon === qname.length - 1 || qname.indexOf(':', colon + 1) !== -1) {
        this.fail(at, `${qname} is not a valid qualified name`);
      }
      const prefix = qname.slice(0, colon);
      if (prefix === 'xml') return;
      if (prefix === 'xmlns') {
        if (i === 0) this.fail(at, `element name ${qname} uses the reserved prefix xmlns`);
        return;
      }
      if (!isPrefixInScope(el, prefix)) this.fail(at, `namespace prefix ${prefix} of ${qname} is not declared`);
    });
  }

  /** One element and its content, starting at `p` (a `<`); leaves `this.pos` after it. */
  element(p: number, parent: XmlElement | null): XmlElement {
    const s = this.s;
    const root = this.startTag(p, parent);
    if (root.selfClosing) return root;
    let cur = root;
    p = this.pos;
    for (;;) {
      // startTag already located the next '<' when checking attribute values.
      let lt = this.nextLt;
      if (lt < p) lt = this.nextLt = indexOrEnd(s, '<', p);
      if (lt === s.length) {
        if (p < s.length) this.checkText(p, s.length);
        this.fail(cur.start, `element <${cur.name}> is not closed (reached the end of input)`);
      }
      if (lt > p) {
        this.checkText(p, lt);
        cur.children.push(new XmlLeaf('text', s, p, lt));
      }
      const c1 = s.charCodeAt(lt + 1);
      if (c1 === SLASH) {
        const nameStart = lt + 2;
        const name = cur.name;
        if (!s.startsWith(name, nameStart) || isNameCharAt(s, nameStart + name.length)) {
          const found = s.slice(nameStart, Math.max(scanName(s, nameStart), nameStart));
          const { line, column } = lineColumn(s, cur.start);
          this.fail(lt, `mismatched end tag: expected </${name}> (opened at line ${line}, column ${column}), found </${found}>`);
        }
        const q = this.skipWs(nameStart + name.length);
        if (s.charCodeAt(q) !== GT) this.fail(q, `expected '>' to close end tag </${name}>`);
        cur.endTagStart = lt;
        cur.end = q + 1;
        p = q + 1;
        if (cur === root) {
          this.pos = p;
          return root;
        }
        cur = cur.parentNode!;
      } else if (c1 === BANG) {
        const leaf = this.bang(lt, true);
        cur.children.push(leaf);
        p = leaf.end;
      } else if (c1 === QMARK) {
        const leaf = this.pi(lt);
        cur.children.push(leaf);
        p = leaf.end;
      } else {
        const el = this.startTag(lt, cur);
        cur.children.push(el);
        p = this.pos;
        if (!el.selfClosing) cur = el;
      }
    }
  }

  /** Comments, PIs and whitespace before or after the root; returns the offset of the next `<` that starts an element, or the end. */
  misc(p: number, where: 'before' | 'after'): number {
    const s = this.s;
    for (;;) {
      p = this.skipWs(p);
      if (p >= s.length) return p;
      if (s.charCodeAt(p) !== LT) {
        this.fail(p, where === 'before' ? 'text before the root element' : 'text after the root element');
      }
      const c1 = s.charCodeAt(p + 1);
      if (c1 === BANG) p = this.bang(p, false).end;
      else if (c1 === QMARK) p = this.pi(p).end;
      else if (where === 'before') return p;
      else this.fail(p, 'only one root element is allowed');
    }
  }

  xmlDeclaration(p: number): number {
    XML_DECL.lastIndex = p;
    if (!XML_DECL.test(this.s)) this.fail(p, 'malformed XML declaration');
    return XML_DECL.lastIndex;
  }
}

function checkCharacters(tok: Tokenizer, s: string): void {
  const bad = findForbiddenChar(s);
  if (bad !== -1) {
    const code = s.charCodeAt(bad).toString(16).toUpperCase().padStart(4, '0');
    tok.fail(bad, `character U+${code} is not allowed in XML`);
  }
}

/** Parse a whole document; returns its root element (any name: the caller checks it). */
export function parseDocument(s: string, doc: DocumentContext): XmlElement {
  const tok = new Tokenizer(s, doc);
  checkCharacters(tok, s);
  let p = s.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (s.startsWith('<?xml', p) && /[ \t\r\n]/.test(s.charAt(p + 5))) p = tok.xmlDeclaration(p);
  p = tok.misc(p, 'before');
  if (p >= s.length) tok.fail(p, s.trim() === '' ? 'empty document' : 'no root element');
  const root = tok.element(p, null);
  tok.misc(tok.pos, 'after');
  return root;
}

/** Parse one element rendered by an edit; `parent` gives its namespace scope. */
export function parseFragment(s: string, doc: DocumentContext, parent: XmlElement): XmlElement {
  const tok = new Tokenizer(s, doc);
  try {
    checkCharacters(tok, s);
    if (s.charCodeAt(0) !== LT || s.charCodeAt(1) === BANG || s.charCodeAt(1) === QMARK) tok.fail(0, 'expected an element');
    const el = tok.element(0, parent);
    if (tok.pos !== s.length) tok.fail(tok.pos, 'unexpected content after the element');
    return el;
  } catch (e) {
    if (e instanceof XmlError) throw new XmlError(`new element is not well-formed: ${e.message}`, 'edit');
    throw e;
  }
}
