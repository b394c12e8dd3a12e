/**
 * Bad input gets a clear XmlError (with line and column where it has a place) and never a
 * partial document.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XmlError } from '../../src/core/errors.js';
import { DEFAULT_MAX_XML_BYTES, DomainXml } from '../../src/core/xml/index.js';

function parseError(text: string, maxBytes?: number): XmlError {
  try {
    DomainXml.parse(text, maxBytes === undefined ? {} : { maxBytes });
  } catch (err) {
    expect(err).toBeInstanceOf(XmlError);
    return err as XmlError;
  }
  throw new Error('expected DomainXml.parse to throw');
}

describe('malformed XML is refused with line and column', () => {
  it.each([
    ['mismatched end tag', "<domain>\n  <name>x</nam>\n</domain>", 2, 10, /mismatched end tag: expected <\/name>/],
    ['unclosed root', "<domain>\n  <name>x</name>\n", 1, 1, /not closed/],
    ['unquoted attribute', '<domain type=kvm/>', 1, 14, /must be quoted/],
    ['duplicate attribute', "<domain a='1' a='2'/>", 1, 14, /duplicate attribute a/],
    ['bare ampersand', '<domain>\n<name>a & b</name></domain>', 2, 9, /must be escaped/],
    ['undefined entity', '<domain><name>&nbsp;</name></domain>', 1, 15, /undefined entity &nbsp;/],
    ["'<' in an attribute", "<domain a='<'/>", 1, 12, /not allowed in the value/],
    ['two roots', '<domain/><domain/>', 1, 10, /only one root/],
    ['text after the root', '<domain/>junk', 1, 10, /text after the root/],
    ['undeclared prefix', '<domain><q:x/></domain>', 1, 9, /prefix q .* not declared/],
    ['forbidden control character', '<domain><name>\u0001</name></domain>', 1, 15, /./],
    ['comment with --', '<domain><!-- a -- b --></domain>', 1, 16, /'--' is not allowed/],
  ])('%s', (_what, text, line, column, message) => {
    const err = parseError(text);
    expect(err.code).toBe('malformed');
    expect(err.line).toBe(line);
    expect(err.column).toBe(column);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`(line ${line}, column ${column})`);
  });

  it('an empty document, and a document that is not text', () => {
    expect(parseError('').code).toBe('malformed');
    expect(parseError(null as unknown as string).message).toMatch(/must be text/);
  });
});

describe('DOCTYPE and entity declarations are refused (XXE, billion laughs)', () => {
  it('external entity (XXE)', () => {
    const err = parseError('<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/shadow">]>\n<domain><name>&x;</name></domain>');
    expect(err.code).toBe('doctype');
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/DOCTYPE/);
  });

  it('billion laughs', () => {
    const lol = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><domain>&lol2;</domain>';
    expect(parseError(lol).code).toBe('doctype');
  });

  it('a bare DOCTYPE without entities', () => {
    expect(parseError('<!DOCTYPE domain><domain/>').code).toBe('doctype');
  });
});

describe('size limit', () => {
  const big = readFileSync(join(import.meta.dirname, '../fixtures/corpus/kubevirt/kv-synth-dedicated-numa-10k.xml'), 'utf8');

  it('defaults to 4 MiB', () => {
    expect(DEFAULT_MAX_XML_BYTES).toBe(4 * 1024 * 1024);
    const padded = big.replace('</domain>', `<!--${'x'.repeat(DEFAULT_MAX_XML_BYTES)}--></domain>`);
    expect(parseError(padded).code).toBe('too-large');
  });

  it('counts UTF-8 bytes, not characters', () => {
    const text = `<domain><name>${'é'.repeat(600)}</name></domain>`; // 600 chars, 1200 bytes of é
    expect(text.length).toBeLessThan(1000);
    expect(parseError(text, 1000).code).toBe('too-large');
    expect(DomainXml.parse(text, { maxBytes: 2000 }).root.first('name')?.text()).toHaveLength(600);
  });

  it('a document just under the limit parses', () => {
    expect(DomainXml.parse(big, { maxBytes: Buffer.byteLength(big) }).serialize()).toBe(big);
    expect(parseError(big, Buffer.byteLength(big) - 1).code).toBe('too-large');
  });
});

describe('root element', () => {
  it('must be <domain>', () => {
    const err = parseError("<network>\n  <name>default</name>\n</network>\n");
    expect(err.code).toBe('not-domain');
    expect(err.message).toMatch(/<network>.*expected <domain>/);
  });

  it('a namespaced <domain> is still a domain only by its local name if unprefixed', () => {
    expect(DomainXml.parse('<domain xmlns="urn:x"/>').root.name).toBe('domain');
    expect(parseError('<d:domain xmlns:d="urn:x"/>').code).toBe('not-domain');
  });
});
