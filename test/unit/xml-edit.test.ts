/**
 * Span edits: each operation rewrites only what it touches, new elements copy the
 * surrounding indentation and quote style, and the result always re-parses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { XmlError } from '../../src/core/errors.js';
import { DomainXml, type XmlElement } from '../../src/core/xml/index.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/corpus');
const read = (rel: string): string => readFileSync(join(FIXTURES, rel), 'utf8');

/** Lines of `after` that differ from `before`, assuming the same number of lines. */
function changedLines(before: string, after: string): string[] {
  const b = before.split('\n');
  const a = after.split('\n');
  expect(a).toHaveLength(b.length);
  return a.filter((line, i) => line !== b[i]);
}

function only(doc: DomainXml, path: string): XmlElement {
  const found = doc.select(path);
  expect(found).toHaveLength(1);
  return found[0] as XmlElement;
}

/** Serialize, and prove the output is well-formed by two parsers. */
function output(doc: DomainXml): string {
  const out = doc.serialize();
  expect(XMLValidator.validate(out)).toBe(true);
  expect(DomainXml.parse(out).serialize()).toBe(out);
  return out;
}

const CPUTUNE = read('libvirt/cputune.xml');
const KV = read('kubevirt/kv-real-cat8kv-01.xml');

describe('attribute edits', () => {
  it('setAttr on an existing attribute rewrites that value only, keeping its quote', () => {
    const doc = DomainXml.parse(CPUTUNE);
    const pin = doc.select('cputune/vcpupin')[0] as XmlElement;
    const before = pin.attr('cpuset');
    pin.setAttr('cpuset', '7');
    const out = output(doc);
    const changed = changedLines(CPUTUNE, out);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toContain("cpuset='7'");
    expect(changed[0]).not.toContain(`cpuset='${before}'`);
  });

  it('setAttr adding a new attribute uses the quote style of the element', () => {
    const doc = DomainXml.parse(CPUTUNE);
    only(doc, 'cputune/emulatorpin').setAttr('extra', 'x"y');
    const changed = changedLines(CPUTUNE, output(doc));
    expect(changed).toEqual([expect.stringMatching(/<emulatorpin cpuset='[^']*' extra='x"y'\/>/)]);
  });

  it('setAttr to the current value is a no-op that keeps the document unmodified', () => {
    const doc = DomainXml.parse(CPUTUNE);
    const pin = doc.select('cputune/vcpupin')[0] as XmlElement;
    pin.setAttr('cpuset', pin.attr('cpuset') as string);
    expect(doc.modified).toBe(false);
    expect(doc.serialize()).toBe(CPUTUNE);
  });

  it('removeAttr drops the attribute and its leading whitespace', () => {
    const doc = DomainXml.parse(CPUTUNE);
    only(doc, 'memory').removeAttr('unit');
    const changed = changedLines(CPUTUNE, output(doc));
    expect(changed).toEqual([expect.stringMatching(/^\s*<memory>\d+<\/memory>$/)]);
  });

  it('escapes values so that they round-trip through attr()', () => {
    const doc = DomainXml.parse(KV);
    const el = only(doc, 'name');
    el.setAttr('note', `<&>'"\t`);
    const again = DomainXml.parse(output(doc));
    expect(only(again, 'name').attr('note')).toBe(`<&>'"\t`);
  });
});

describe('text edits', () => {
  it('setText replaces the text of one element only', () => {
    const doc = DomainXml.parse(KV);
    only(doc, 'name').setText('renamed & <escaped>');
    const out = output(doc);
    expect(changedLines(KV, out)).toEqual([expect.stringContaining('<name>renamed &amp; &lt;escaped&gt;</name>')]);
    expect(only(DomainXml.parse(out), 'name').text()).toBe('renamed & <escaped>');
  });

  it('setText on a self-closing element opens it', () => {
    const doc = DomainXml.parse('<domain><a/><b x="1"/></domain>');
    only(doc, 'b').setText('t');
    expect(output(doc)).toBe('<domain><a/><b x="1">t</b></domain>');
  });
});

describe('element edits', () => {
  it('insert appends a child indented like its siblings, with their quote style', () => {
    const doc = DomainXml.parse(CPUTUNE);
    const cputune = only(doc, 'cputune');
    const pins = cputune.elements('vcpupin');
    cputune.insert({ name: 'vcpupin', attrs: [['vcpu', '9'], ['cpuset', '3']] }, { after: pins.at(-1) as XmlElement });
    const out = output(doc);
    const lines = out.split('\n');
    const added = lines.findIndex((l) => l.includes("vcpu='9'"));
    expect(lines[added]).toBe(`${(lines[added - 1] as string).match(/^\s*/)?.[0]}<vcpupin vcpu='9' cpuset='3'/>`);
    // Everything else is unchanged: removing the added line gives back the input.
    expect([...lines.slice(0, added), ...lines.slice(added + 1)].join('\n')).toBe(CPUTUNE);
  });

  it('insert into a double-quoted document uses double quotes', () => {
    const doc = DomainXml.parse('<domain type="kvm">\n  <cputune>\n    <vcpupin vcpu="0" cpuset="1"/>\n  </cputune>\n</domain>\n');
    only(doc, 'cputune').insert({ name: 'emulatorpin', attrs: { cpuset: '2' } });
    expect(output(doc)).toBe('<domain type="kvm">\n  <cputune>\n    <vcpupin vcpu="0" cpuset="1"/>\n    <emulatorpin cpuset="2"/>\n  </cputune>\n</domain>\n');
  });

  it('insert of a nested element into an empty parent indents one step deeper', () => {
    const doc = DomainXml.parse("<domain type='kvm'>\n  <name>x</name>\n  <devices/>\n</domain>\n");
    only(doc, 'devices').insert({ name: 'memballoon', attrs: { model: 'none' }, children: [{ name: 'alias', attrs: { name: 'b0' } }] });
    expect(output(doc)).toBe("<domain type='kvm'>\n  <name>x</name>\n  <devices>\n    <memballoon model='none'>\n      <alias name='b0'/>\n    </memballoon>\n  </devices>\n</domain>\n");
  });

  it('insert keeps CRLF line endings', () => {
    const crlf = read('edge/edge-crlf.xml');
    const doc = DomainXml.parse(crlf);
    doc.root.insert({ name: 'numatune', children: [{ name: 'memory', attrs: { mode: 'strict', nodeset: '0' } }] });
    const out = output(doc);
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expect(out).toContain('<numatune>\r\n');
  });

  it('remove deletes the element and the indentation before it, nothing else', () => {
    const doc = DomainXml.parse(CPUTUNE);
    only(doc, 'cputune/emulatorpin').remove();
    const out = output(doc);
    const expected = CPUTUNE.split('\n').filter((l) => !l.includes('<emulatorpin')).join('\n');
    expect(out).toBe(expected);
  });

  it('replaceWith puts the new element in the same place and layout', () => {
    const doc = DomainXml.parse(CPUTUNE);
    only(doc, 'cputune/emulatorpin').replaceWith({ name: 'emulatorpin', attrs: { cpuset: '5-6' } });
    expect(changedLines(CPUTUNE, output(doc))).toEqual([expect.stringMatching(/^\s*<emulatorpin cpuset='5-6'\/>$/)]);
  });

  it('an edit inside <metadata> with a default namespace keeps the namespaces intact', () => {
    const text = read('edge/edge-namespaces.xml');
    const doc = DomainXml.parse(text);
    only(doc, 'metadata/kubevirt/uid').setText('new-uid');
    const out = output(doc);
    expect(changedLines(text, out)).toEqual([expect.stringContaining('<uid>new-uid</uid>')]);
    expect(out).toContain('<kubevirt xmlns="http://kubevirt.io">');
  });
});

describe('edits refuse what would break the document', () => {
  it('an invalid element name', () => {
    const doc = DomainXml.parse(CPUTUNE);
    expect(() => only(doc, 'cputune').insert({ name: '1bad' })).toThrow(XmlError);
    expect(doc.modified).toBe(false);
  });

  it('an undeclared namespace prefix', () => {
    const doc = DomainXml.parse(CPUTUNE);
    expect(() => only(doc, 'cputune').insert({ name: 'nope:pin' })).toThrow(/prefix|namespace/i);
    expect(() => only(doc, 'memory').setAttr('nope:x', '1')).toThrow(XmlError);
  });

  it('characters XML 1.0 cannot represent', () => {
    const doc = DomainXml.parse(CPUTUNE);
    expect(() => only(doc, 'memory').setText('a\u0001b')).toThrow(XmlError);
    expect(() => only(doc, 'memory').setAttr('x', '\u0000')).toThrow(XmlError);
    expect(doc.serialize()).toBe(CPUTUNE);
  });

  it('removing or replacing the root, and editing a removed element', () => {
    const doc = DomainXml.parse(CPUTUNE);
    expect(() => doc.root.remove()).toThrow(XmlError);
    const pin = only(doc, 'cputune/emulatorpin');
    pin.remove();
    expect(() => pin.setAttr('cpuset', '1')).toThrow(/removed/);
  });
});
