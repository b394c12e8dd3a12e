/**
 * The path language of a SiteHook edit's `select`: a subset of XPath 1.0 location paths, rooted
 * at /domain. Grammar (whitespace allowed only inside predicates, around `=`/`!=`/`and`):
 *
 *   path      := ('/domain' ('/' steps)?) | steps        (a relative path starts at /domain)
 *   steps     := step ('/' step)* ('/' '@' QName | '/' 'text()')?   (text(): the element's text, as without it)
 *   step      := QName predicate*
 *   predicate := '[' integer ']' | '[' 'position()' '=' integer ']' | '[' 'last()' ']'
 *                                                         (position among the matches so far, from 1)
 *              | '[' test ('and' test)* ']'
 *   test      := operand (('=' | '!=') literal)?            (no comparison: the operand exists)
 *   operand   := '@' QName | 'text()' | QName ('/' QName)* ('/' '@' QName)?
 *   literal   := "'" chars "'" | '"' chars '"'
 *
 * Semantics are XPath's: a step selects the matching children of every context element in
 * document order; a comparison with a node-set is true when some node in it has that string value
 * (an element's string value is all its descendant text). No axes, wildcards, functions (other
 * than text() in a predicate), unions or variables: what is not in the grammar is an error with
 * its column, so a SiteHook is refused at admission rather than misread at migration time.
 */
import { isQName } from '../xml/chars.js';
import { decodeCdata, decodeText } from '../xml/escape.js';
import type { XmlElement } from '../xml/index.js';

export type Operand =
  | { kind: 'attr'; name: string }
  | { kind: 'text' }
  | { kind: 'child'; names: string[]; attr?: string };

export interface Test {
  operand: Operand;
  negate: boolean;
  /** undefined: an existence test (`[iotune]`, `[@file]`). */
  literal?: string;
}

/** index -1: last(). */
export type Predicate = { kind: 'position'; index: number } | { kind: 'tests'; tests: Test[] };

export interface Step {
  name: string;
  predicates: Predicate[];
}

export interface SitePath {
  /** As written. */
  readonly source: string;
  readonly steps: readonly Step[];
  /** Final `@name`: the path selects that attribute of each matched element. */
  readonly attr?: string;
}

/** A bad path: the message names the column (1-based) and what was expected. */
export class PathError extends Error {}

class Reader {
  pos = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    const at = this.pos >= this.s.length ? 'at the end' : `at column ${this.pos + 1} ('${this.s[this.pos]}')`;
    throw new PathError(`select "${this.s}": ${what} ${at}`);
  }

  eat(token: string): boolean {
    if (this.s.startsWith(token, this.pos)) {
      this.pos += token.length;
      return true;
    }
    return false;
  }

  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }

  qname(what: string): string {
    const m = /^[^\s/[\]@='"!()]+/.exec(this.s.slice(this.pos));
    if (!m || !isQName(m[0]) || m[0].split(':').length > 2) this.fail(`expected ${what}`);
    this.pos += m[0].length;
    return m[0];
  }

  literal(): string {
    const q = this.s[this.pos];
    if (q !== "'" && q !== '"') this.fail('expected a string literal in quotes');
    const end = this.s.indexOf(q, this.pos + 1);
    if (end === -1) this.fail('unterminated string literal');
    const value = this.s.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }
}

function parseOperand(r: Reader): Operand {
  if (r.eat('@')) return { kind: 'attr', name: r.qname('an attribute name') };
  if (r.eat('text()')) return { kind: 'text' };
  const names = [r.qname('an element name, @attribute or text()')];
  while (r.eat('/')) {
    if (r.eat('@')) return { kind: 'child', names, attr: r.qname('an attribute name') };
    names.push(r.qname('an element name'));
  }
  return { kind: 'child', names };
}

function parsePredicate(r: Reader): Predicate {
  r.ws();
  if (r.eat('last()')) {
    r.ws();
    if (!r.eat(']')) r.fail("expected ']' after last()");
    return { kind: 'position', index: -1 };
  }
  if (r.eat('position()')) {
    r.ws();
    if (!r.eat('=')) r.fail("expected '=' after position()");
    r.ws();
  }
  const num = /^[0-9]+/.exec(r.s.slice(r.pos));
  if (num) {
    const index = Number(num[0]);
    if (index < 1 || !Number.isSafeInteger(index)) r.fail('positions count from 1');
    r.pos += num[0].length;
    r.ws();
    if (!r.eat(']')) r.fail("expected ']' after a position");
    return { kind: 'position', index };
  }
  const tests: Test[] = [];
  for (;;) {
    const operand = parseOperand(r);
    r.ws();
    let negate = false;
    if (r.eat('!=')) negate = true;
    else if (!r.eat('=')) {
      if (r.s[r.pos] !== ']' && !r.s.startsWith('and', r.pos)) r.fail("expected '=', '!=', 'and' or ']'");
      tests.push({ operand, negate });
      if (r.eat(']')) return { kind: 'tests', tests };
      r.eat('and');
      const at = r.pos;
      r.ws();
      if (r.pos === at) r.fail("expected a space after 'and'");
      continue;
    }
    r.ws();
    tests.push({ operand, negate, literal: r.literal() });
    r.ws();
    if (r.eat(']')) return { kind: 'tests', tests };
    if (!r.eat('and')) r.fail("expected ']' or 'and'");
    const before = r.pos;
    r.ws();
    if (r.pos === before) r.fail("expected a space after 'and'");
  }
}

/** Throws PathError. */
export function parsePath(source: string): SitePath {
  if (typeof source !== 'string' || source === '') throw new PathError('select must be a non-empty string');
  if (source.length > 1024) throw new PathError('select is longer than 1024 characters');
  const r = new Reader(source);
  if (r.eat('/')) {
    if (!r.eat('domain')) r.fail("an absolute path starts with '/domain'");
    if (r.pos === source.length) return { source, steps: [] };
    if (!r.eat('/')) r.fail("expected '/'");
  }
  const steps: Step[] = [];
  let attr: string | undefined;
  for (;;) {
    if (r.eat('@')) {
      attr = r.qname('an attribute name');
      if (r.pos !== source.length) r.fail('an attribute ends the path; nothing may follow it');
      break;
    }
    if (steps.length > 0 && r.eat('text()')) {
      if (r.pos !== source.length) r.fail('text() ends the path; nothing may follow it');
      break;
    }
    const name = r.qname('an element name or @attribute');
    const predicates: Predicate[] = [];
    while (r.eat('[')) predicates.push(parsePredicate(r));
    steps.push({ name, predicates });
    if (r.pos === source.length) break;
    if (!r.eat('/')) r.fail("expected '/' or '['");
  }
  return attr !== undefined ? { source, steps, attr } : { source, steps };
}

/** What a path matched: an element, or one existing attribute of it. */
export interface PathMatch {
  el: XmlElement;
  attr?: string;
}

/** XPath string value: the text of every descendant, in document order. */
export function stringValue(el: XmlElement): string {
  let out = '';
  for (const c of el.children) {
    if (c.kind === 'element') out += stringValue(c);
    else if (c.kind === 'text') out += decodeText(c.raw());
    else if (c.kind === 'cdata') out += decodeCdata(c.src.slice(c.start + 9, c.end - 3));
  }
  return out;
}

function operandValues(el: XmlElement, op: Operand): string[] {
  if (op.kind === 'attr') {
    const v = el.attr(op.name);
    return v === undefined ? [] : [v];
  }
  if (op.kind === 'text') return [el.text()];
  let set = [el];
  for (const name of op.names) set = set.flatMap((e) => e.elements(name));
  if (op.attr !== undefined) {
    const a = op.attr;
    return set.map((e) => e.attr(a)).filter((v): v is string => v !== undefined);
  }
  return set.map(stringValue);
}

function testHolds(el: XmlElement, t: Test): boolean {
  const values = operandValues(el, t.operand);
  if (t.literal === undefined) return values.length > 0 && !(t.operand.kind === 'text' && values[0] === '');
  // XPath: `nodeset != 'x'` is true when some node differs (not "no node equals").
  return values.some((v) => (t.negate ? v !== t.literal : v === t.literal));
}

/** Evaluate against the document root (<domain>); results in document order, no duplicates. */
export function evaluatePath(path: SitePath, root: XmlElement): PathMatch[] {
  let context = [root];
  for (const step of path.steps) {
    const next: XmlElement[] = [];
    for (const el of context) {
      let matched = el.elements(step.name);
      for (const p of step.predicates) {
        if (p.kind === 'position') {
          const at = p.index === -1 ? matched.length - 1 : p.index - 1;
          matched = matched[at] ? [matched[at]!] : [];
        } else {
          matched = matched.filter((m) => p.tests.every((t) => testHolds(m, t)));
        }
      }
      next.push(...matched);
    }
    context = next;
  }
  if (path.attr === undefined) return context.map((el) => ({ el }));
  const attr = path.attr;
  return context.filter((el) => el.attr(attr) !== undefined).map((el) => ({ el, attr }));
}

/** The path's shape for the allow-list: element names and the attribute, predicates dropped. */
export function pathShape(path: SitePath): string[] {
  const shape = path.steps.map((s) => s.name);
  if (path.attr !== undefined) shape.push(`@${path.attr}`);
  return shape;
}
