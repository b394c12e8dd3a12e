/**
 * src/core/site-hooks: the path language, facts, the allow-list and forbidden targets, the
 * SiteHook validation, the delivery format, and the ABI guard's disk <iotune> rule.
 */
import { runHooks } from '../../src/core/chain.js';
import { AbiViolation } from '../../src/core/errors.js';
import { REGISTRY } from '../../src/core/hooks/registry.js';
import {
  allowList,
  canonicalJson,
  compileSiteHook,
  compileSiteHooks,
  deliveryDigest,
  evaluatePath,
  forbiddenShape,
  isAllowed,
  labelsMatch,
  MAX_DELIVERY_BYTES,
  measuredFacts,
  parseDelivery,
  parseLabelSelector,
  parsePath,
  PathError,
  renderDelivery,
  siteHook,
  siteHookEntries,
  SiteHookInvalid,
} from '../../src/core/site-hooks/index.js';
import { parseTemplate, substitute } from '../../src/core/site-hooks/facts.js';
import { DomainXml } from '../../src/core/xml/index.js';
import { inlineHost } from '../golden/cases.js';

const DOMAIN = `<domain type='kvm'>
  <name>d</name>
  <devices>
    <disk type='file' device='disk'>
      <source file='/a/1.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/a/2.iso'/>
      <target dev='sda' bus='sata'/>
      <serial>x&amp;y</serial>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/b'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
`;
const host = inlineHost({ cells: { '0': '0-3', '1': '4-7' } });
const ctx = { cpuset: [2, 3, 4], host };

function sel(path: string): string[] {
  const doc = DomainXml.parse(DOMAIN);
  return evaluatePath(parsePath(path), doc.root).map((m) => `${m.el.path()}${m.attr !== undefined ? `/@${m.attr}=${m.el.attr(m.attr)}` : ''}`);
}

function hookOf(edits: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: 'premigration-hooks.kubevirt.io/v1alpha1', kind: 'SiteHook', metadata: { name: 'h' }, spec: { edits, ...extra } };
}

describe('path language', () => {
  test('child steps, attributes, predicates on attributes, child attributes, child text, positions', () => {
    expect(sel("devices/disk[target/@dev='vda']/source/@file")).toEqual(['/domain/devices/disk[1]/source/@file=/a/1.img']);
    expect(sel('/domain/devices/disk[2]/source/@file')).toEqual(['/domain/devices/disk[2]/source/@file=/a/2.iso']);
    expect(sel("devices/disk[@type='file'][2]")).toEqual(['/domain/devices/disk[2]']);
    expect(sel("devices/disk[serial='x&y']/target/@dev")).toEqual(['/domain/devices/disk[2]/target/@dev=sda']);
    expect(sel('devices/disk/source/@file')).toHaveLength(2); // the block disk has no @file
    expect(sel("devices/disk[@device!='cdrom' and target/@bus=\"virtio\"]/target/@dev")).toEqual(['/domain/devices/disk[1]/target/@dev=vda', '/domain/devices/disk[3]/target/@dev=vdb']);
    expect(sel('devices/disk[serial]')).toEqual(['/domain/devices/disk[2]']);
    expect(sel('devices/disk[9]')).toEqual([]);
    expect(sel('/domain')).toEqual(['/domain']);
    expect(sel('devices/disk[last()]/target/@dev')).toEqual(['/domain/devices/disk[3]/target/@dev=vdb']);
    expect(sel('devices/disk[position()=2]/source/@file')).toEqual(['/domain/devices/disk[2]/source/@file=/a/2.iso']);
    expect(sel('devices/disk[2]/serial/text()')).toEqual(sel('devices/disk[2]/serial'));
  });

  test.each([
    ['devices//disk', /column 9/],
    ['/devices/disk', /starts with '\/domain'/],
    ['devices/disk[0]', /positions count from 1/],
    ['devices/disk[@dev=vda]', /string literal/],
    ["devices/disk[@dev='vda'", /expected/],
    ['devices/@type/x', /nothing may follow/],
    ['devices/*', /element name/],
    ['devices/disk[first()]', /expected/],
    ['devices/disk/text()/x', /text\(\) ends the path/],
    ['', /non-empty/],
  ])('%s is refused', (path, msg) => {
    expect(() => parsePath(path)).toThrow(PathError);
    expect(() => parsePath(path)).toThrow(msg);
  });
});

describe('facts', () => {
  test('substitution, $${ as a literal, escaping only the fact value', () => {
    expect(substitute('a/${node.name}/$${x}/$y', { 'node.name': 'n<1' }, (v) => v.replace('<', '&lt;'))).toBe('a/n&lt;1/${x}/$y');
    expect(() => parseTemplate('${node.zone}')).toThrow('unknown fact ${node.zone}');
    expect(() => parseTemplate('${node.name')).toThrow('unterminated');
    expect(() => substitute('${pod.name}', {})).toThrow('fact ${pod.name} has no value on this target');
  });
  test('cpuset and numa.nodes are measured from the request and the host', () => {
    expect(measuredFacts([2, 3, 4], host)).toEqual({ cpuset: '2-4', 'numa.nodes': '0-1' });
    expect(measuredFacts([5], host)).toEqual({ cpuset: '5', 'numa.nodes': '1' });
  });
});

describe('allow-list and forbidden targets', () => {
  const list = allowList();
  test('defaults', () => {
    expect(isAllowed(list, ['devices', 'disk', 'source', '@file'])).toBe(true);
    expect(isAllowed(list, ['devices', 'disk', 'source', '@dev'])).toBe(false);
    expect(isAllowed(list, ['devices', 'disk', 'iotune', 'total_bytes_sec'])).toBe(true);
    expect(isAllowed(list, ['cputune', 'shares'])).toBe(true);
    expect(isAllowed(list, ['cputune', 'vcpupin'])).toBe(false);
    expect(isAllowed(list, ['metadata', 'site:x'])).toBe(true);
    expect(isAllowed(list, ['metadata', 'x'])).toBe(false);
  });
  test('an extension adds, and a bad pattern is refused', () => {
    expect(isAllowed(allowList(['devices/disk/target/@dev']), ['devices', 'disk', 'target', '@dev'])).toBe(true);
    expect(() => allowList(['devices/@x/y'])).toThrow('final @attribute');
  });
  test.each([
    [['qemu:commandline']],
    [['seclabel', '@type']],
    [['devices', 'disk', 'source', 'seclabel']],
    [['devices', 'graphics', 'listen', '@address']],
    [['devices', 'channel', 'source']],
    [['devices', 'serial', '@type']],
    [[]],
  ])('%j is forbidden', (shape) => {
    expect(forbiddenShape(shape)).toBeDefined();
  });
  test('forbidden whatever the allow-list says', () => {
    expect(() => compileSiteHook(hookOf([{ select: 'seclabel/@type', set: 'none' }]), allowList(['*', 'seclabel']))).toThrow('forbidden target');
  });
});

describe('SiteHook validation', () => {
  test('collects every problem with its field', () => {
    try {
      compileSiteHook({ apiVersion: 'v1', kind: 'SiteHook', metadata: { name: 'Bad_Name', namespace: 'x' }, spec: { order: 1.5, onError: 'retry', extra: 1, edits: [{ select: 'metadata' }, { select: 'metadata', set: 'a', remove: true }] } });
      throw new Error('not refused');
    } catch (err) {
      expect(err).toBeInstanceOf(SiteHookInvalid);
      const problems = (err as SiteHookInvalid).problems.join('\n');
      for (const p of ['apiVersion must be', 'cluster-scoped', 'metadata.name must be a DNS label', 'spec.extra is not a SiteHook field', 'spec.order must be an integer', 'spec.onError must be', 'spec.edits[0] needs exactly one of set, remove, appendXML (got none)', 'spec.edits[1] needs exactly one of set, remove, appendXML (got set, remove)']) {
        expect(problems).toContain(p);
      }
    }
  });
  test('normalizes: order defaults to 0, require only when true, selectors checked', () => {
    const h = compileSiteHook(hookOf([{ select: 'cputune/shares', remove: true, require: false }], { selector: { matchLabels: { a: 'b' } } }));
    expect(h.spec).toEqual({ order: 0, selector: { matchLabels: { a: 'b' } }, edits: [{ select: 'cputune/shares', remove: true }] });
    expect(() => compileSiteHook(hookOf([{ select: 'cputune/shares', remove: true }], { selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }))).toThrow('values must be non-empty for In');
  });
  test('order, then name; duplicate names refused', () => {
    const mk = (name: string, order: number): unknown => ({ name, spec: { order, edits: [{ select: 'cputune/shares', remove: true }] } });
    expect(compileSiteHooks([mk('b', 1), mk('a', 1), mk('c', 0)]).map((h) => h.name)).toEqual(['c', 'a', 'b']);
    expect(() => compileSiteHooks([mk('a', 1), mk('a', 2)])).toThrow('used twice');
  });
});

describe('LabelSelector', () => {
  test('matchLabels and each operator', () => {
    const s = parseLabelSelector({ matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }, { key: 'x', operator: 'DoesNotExist' }, { key: 'env', operator: 'NotIn', values: ['dev'] }, { key: 'app', operator: 'Exists' }] }, 'spec.selector');
    expect(labelsMatch(s, { app: 'db', tier: 'gold' })).toBe(true);
    expect(labelsMatch(s, { app: 'db', tier: 'gold', env: 'dev' })).toBe(false);
    expect(labelsMatch(s, { app: 'db', tier: 'gold', x: '' })).toBe(false);
    expect(labelsMatch(s, { app: 'web', tier: 'gold' })).toBe(false);
    expect(labelsMatch(undefined, {})).toBe(true);
  });
});

describe('delivery (PREMIGRATION_HOOKS_SITE_HOOKS)', () => {
  const hooks = compileSiteHooks([
    { name: 'z', spec: { order: 1, edits: [{ select: 'cputune/shares', remove: true }] } },
    { name: 'a', spec: { order: 2, edits: [{ select: 'metadata', appendXML: '<s:x xmlns:s="urn:s">${node.name}</s:x>' }] } },
  ]);
  test('canonical JSON, in run order, round-trips, with a sha256 digest of the exact value', () => {
    const value = renderDelivery(hooks);
    expect(value).toBe('{"siteHooks":[{"name":"z","spec":{"edits":[{"remove":true,"select":"cputune/shares"}],"order":1}},{"name":"a","spec":{"edits":[{"appendXML":"<s:x xmlns:s=\\"urn:s\\">${node.name}</s:x>","select":"metadata"}],"order":2}}],"version":1}');
    expect(parseDelivery(value).map((h) => h.spec)).toEqual(hooks.map((h) => h.spec));
    expect(deliveryDigest(value)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
  test('refuses what is not the format, too large, or not allowed on the receiver', () => {
    expect(parseDelivery(undefined)).toEqual([]);
    expect(() => parseDelivery('{"version":2,"siteHooks":[]}')).toThrow('unsupported version');
    expect(() => parseDelivery('x')).toThrow('not JSON');
    expect(() => parseDelivery(`{"version":1,"siteHooks":[],"pad":"${'x'.repeat(MAX_DELIVERY_BYTES)}"}`)).toThrow('larger than');
    const extended = renderDelivery(compileSiteHooks([{ name: 'p', spec: { edits: [{ select: 'devices/disk/target/@dev', set: 'x' }] } }], allowList(['devices/disk/target'])));
    expect(() => parseDelivery(extended)).toThrow('not on the allow-list');
  });
});

describe('site hooks in the chain', () => {
  const opts = { facts: { 'node.name': 'w1' }, allow: allowList() };
  test('registry entries named site:<name>, after the built-ins, counting in coexist mode', () => {
    const entries = siteHookEntries(compileSiteHooks([{ name: 'x', spec: { selector: { matchLabels: { a: 'b' } }, edits: [{ select: 'cputune/shares', remove: true }] } }]), opts);
    const reg = REGISTRY.with(entries);
    expect(reg.names().at(-1)).toBe('site:x');
    // Even when the admin trusts upstream for every built-in, a site hook stays: upstream has none.
    expect(reg.forMode('coexist', reg.defaultNames(), { trustUpstream: ['cpu-dedicated', 'disk-namespace'] })).toEqual(['site:x']);
    expect(entries[0]!.appliesTo({ metadata: { labels: { a: 'b' } } })).toBe(true);
    expect(entries[0]!.appliesTo({ metadata: { labels: {} } })).toBe(false);
  });
  test('a site hook refused by the ABI guard leaves nothing behind, and pass skips it whole', () => {
    const bad = compileSiteHook({ name: 'b', spec: { edits: [{ select: 'devices/disk[1]/source/@file', set: '/new' }, { select: 'devices/disk/target/@bus', set: 'sata' }] } }, allowList(['devices/disk/target']));
    expect(() => runHooks(DOMAIN, ctx, [siteHook(bad, { ...opts, allow: allowList(['devices/disk/target']) })])).toThrow(/site:b: ABI guard: .*target/);
    const skips: unknown[] = [];
    const passing = { ...bad, spec: { ...bad.spec, onError: 'pass' as const } };
    const r = runHooks(DOMAIN, ctx, [siteHook(passing, { ...opts, allow: allowList(['devices/disk/target']) }, (s) => skips.push(s))]);
    expect(r.xml).toBe(DOMAIN);
    expect(skips).toHaveLength(1);
  });
  test('the server-side allow-list is checked again at migration time', () => {
    const h = compileSiteHook({ name: 'c', spec: { edits: [{ select: 'devices/disk/target/@dev', set: 'x' }] } }, allowList(['devices/disk/target']));
    expect(() => runHooks(DOMAIN, ctx, [siteHook(h, opts)])).toThrow("not on this target's allow-list");
  });
});

describe('ABI guard: disk <iotune> may change, the rest of the disk may not', () => {
  const withIotune = DOMAIN.replace("<target dev='vda' bus='virtio'/>", "<target dev='vda' bus='virtio'/>\n      <iotune><total_bytes_sec>5</total_bytes_sec></iotune>");
  const hookSetting = (edit: (doc: DomainXml) => void) => ({ name: 't', description: 't', appliesTo: () => true, apply: (doc: DomainXml) => (edit(doc), [{ hook: 't', path: '/', before: null, after: null }]) });
  test('adding, changing and removing iotune passes', () => {
    expect(runHooks(DOMAIN, ctx, [hookSetting((d) => void d.select('devices/disk')[0]!.insert({ name: 'iotune', children: [{ name: 'read_iops_sec', text: '9' }] }))]).changed).toBe(true);
    expect(runHooks(withIotune, ctx, [hookSetting((d) => d.select('devices/disk/iotune/total_bytes_sec')[0]!.setText('6'))]).changed).toBe(true);
    expect(runHooks(withIotune, ctx, [hookSetting((d) => d.select('devices/disk/iotune')[0]!.remove())]).changed).toBe(true);
  });
  test('adding another child of a disk is still refused', () => {
    expect(() => runHooks(DOMAIN, ctx, [hookSetting((d) => void d.select('devices/disk')[0]!.insert({ name: 'readonly' }))])).toThrow(AbiViolation);
  });
});
