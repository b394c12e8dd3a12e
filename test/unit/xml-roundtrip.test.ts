/**
 * Lossless round trip: parse + serialize with no edit reproduces every corpus file byte for
 * byte, and the tree we build agrees with fast-xml-parser, an independent parser, on what the
 * document contains.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DomainXml, type XmlElement } from '../../src/core/xml/index.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/corpus');
const SHARED = join(import.meta.dirname, '../../../shared/corpus');

function xmlFiles(root: string): string[] {
  return ['edge', 'kubevirt', 'libvirt']
    .map((d) => join(root, d))
    .filter((d) => existsSync(d))
    .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.xml')).map((f) => join(d, f)));
}

const fixtureFiles = xmlFiles(FIXTURES);
const read = (f: string): string => readFileSync(f, 'utf8');

describe('no-op round trip is byte-identical', () => {
  it('the bundled fixtures cover every corpus kind', () => {
    expect(fixtureFiles.filter((f) => f.includes('/edge/')).length).toBeGreaterThanOrEqual(8);
    expect(fixtureFiles.filter((f) => f.includes('/kubevirt/')).length).toBeGreaterThanOrEqual(10);
    expect(fixtureFiles.filter((f) => f.includes('/libvirt/')).length).toBeGreaterThanOrEqual(30);
  });

  it.each(fixtureFiles.map((f) => [f.slice(FIXTURES.length + 1), f]))('%s', (_name, file) => {
    const text = read(file);
    const doc = DomainXml.parse(text);
    expect(doc.modified).toBe(false);
    expect(doc.serialize()).toBe(text);
  });

  // CI always has ../shared beside the checkout; a bare clone sweeps the bundled fixtures only.
  const shared = xmlFiles(SHARED);
  if (shared.length > 0) it('every file of ../shared/corpus (wide sweep)', () => {
    expect(shared.length).toBeGreaterThan(500);
    const mismatches = shared.filter((f) => {
      const text = read(f);
      return DomainXml.parse(text).serialize() !== text;
    });
    expect(mismatches).toEqual([]);
  });

  it('keeps CRLF, a missing trailing newline, comments, CDATA and PIs', () => {
    const crlf = read(join(FIXTURES, 'edge/edge-crlf.xml'));
    expect(crlf).toContain('\r\n');
    expect(DomainXml.parse(crlf).serialize()).toBe(crlf);
    const noNl = read(join(FIXTURES, 'edge/edge-no-trailing-newline.xml'));
    expect(noNl.endsWith('\n')).toBe(false);
    expect(DomainXml.parse(noNl).serialize()).toBe(noNl);
    const cdata = read(join(FIXTURES, 'edge/edge-cdata-pi.xml'));
    expect(cdata).toContain('<![CDATA[');
    expect(DomainXml.parse(cdata).serialize()).toBe(cdata);
  });
});

/** Element names in pre-order, from our tree. */
function ourNames(el: XmlElement, out: string[] = []): string[] {
  out.push(el.name);
  for (const c of el.elements()) ourNames(c, out);
  return out;
}

/** Element names in pre-order, from fast-xml-parser's preserveOrder output. */
function theirNames(nodes: unknown[], out: string[] = []): string[] {
  for (const node of nodes) {
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === ':@' || key === '#text' || key === '#comment' || key === '#cdata' || key.startsWith('?')) continue;
      out.push(key);
      theirNames(value as unknown[], out);
    }
  }
  return out;
}

describe('agrees with fast-xml-parser (independent oracle)', () => {
  const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, commentPropName: '#comment', cdataPropName: '#cdata', processEntities: false });

  it.each(fixtureFiles.map((f) => [f.slice(FIXTURES.length + 1), f]))('%s: same elements in the same order', (_name, file) => {
    const text = read(file);
    expect(XMLValidator.validate(text)).toBe(true);
    const theirs = theirNames(parser.parse(text) as unknown[]);
    expect(ourNames(DomainXml.parse(text).root)).toEqual(theirs);
  });

  it('decodes attribute values and text the way XML says (entities and character references)', () => {
    const doc = DomainXml.parse(read(join(FIXTURES, 'edge/edge-entities.xml')));
    expect(doc.root.first('name')?.text()).toBe('a&b <c> \'q\' "dq" été');
    expect(doc.select('devices/disk/source')[0]?.attr('file')).toBe('/var/lib/a\'b&c "d".img');
    expect(doc.select('devices/interface/source')[0]?.attr('dev')).toBe("it's-dq");
  });
});
