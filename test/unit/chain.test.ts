import { DEFAULT_HOOKS } from '../../src/core/hooks/registry.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runChain, runHooks } from '../../src/core/chain.js';
import { AbiViolation, HookRefusal, InputError, XmlError } from '../../src/core/errors.js';
import type { Change, Hook, HookContext } from '../../src/core/hooks/types.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import type { DomainXml } from '../../src/core/xml/index.js';
import { GOLDEN_DIR, SYSFS_FIXTURES } from '../golden/cases.js';

const input = readFileSync(join(GOLDEN_DIR, 'cpu-dedicated/emulator-one-cpu/input.xml'), 'utf8');
const ctx: HookContext = { cpuset: [1, 2, 3], host: readHostTopology(join(SYSFS_FIXTURES, '1s-nosmt')) };

/** A test-only hook (never in the registry) that performs one edit. */
function rogue(edit: (doc: DomainXml) => void): Hook {
  return {
    name: 'test-rogue',
    description: 'test double: makes one edit',
    appliesTo: () => true,
    apply(doc): Change[] {
      edit(doc);
      return [{ hook: 'test-rogue', path: '(test)', before: null, after: null }];
    },
  };
}

function violation(edit: (doc: DomainXml) => void, xml = input): AbiViolation {
  try {
    runHooks(xml, ctx, [rogue(edit)]);
  } catch (err) {
    expect(err).toBeInstanceOf(AbiViolation);
    return err as AbiViolation;
  }
  throw new Error('expected the ABI guard to refuse');
}

const one = (doc: DomainXml, path: string) => {
  const el = doc.selectOne(path);
  if (!el) throw new Error(`test domain lacks ${path}`);
  return el;
};

describe('ABI guard refuses changes libvirt would reject', () => {
  test('memory size', () => {
    const err = violation((d) => one(d, 'memory').setText('4194304'));
    expect(err.element).toBe('/domain/memory');
    expect(err.message).toMatch(/^ABI guard: \/domain\/memory: text content changed/);
  });

  test('vCPU count', () => {
    expect(violation((d) => one(d, 'vcpu').setText('3')).element).toBe('/domain/vcpu');
  });

  test('uuid', () => {
    expect(violation((d) => one(d, 'uuid').setText('00000000-0000-0000-0000-000000000000')).element).toBe('/domain/uuid');
  });

  test('guest CPU topology', () => {
    const err = violation((d) => one(d, 'cpu/topology').setAttr('sockets', '1'));
    expect(err.element).toBe('/domain/cpu/topology');
    expect(err.message).toContain("attribute 'sockets' changed");
  });

  test('hint-dedicated', () => {
    expect(violation((d) => one(d, 'features/kvm/hint-dedicated').setAttr('state', 'off')).element).toBe('/domain/features/kvm/hint-dedicated');
  });

  test('a device removed', () => {
    const err = violation((d) => one(d, 'devices/graphics').remove());
    expect(err.message).toMatch(/removed|added|moved/);
  });

  test('a device added', () => {
    const err = violation((d) => one(d, 'devices').insert({ name: 'watchdog', attrs: { model: 'i6300esb' } }));
    expect(err.element).toBe('/domain/devices/watchdog');
    expect(err.message).toContain('element was added');
  });

  test('a disk attribute other than its source path', () => {
    const err = violation((d) => one(d, 'devices/disk/driver').setAttr('cache', 'writeback'));
    expect(err.element).toBe('/domain/devices/disk/driver');
  });

  test('a path outside disks (a graphics socket)', () => {
    expect(violation((d) => one(d, 'devices/graphics/listen').setAttr('socket', '/tmp/other')).element).toBe('/domain/devices/graphics/listen');
  });

  test('the message names the attribute but never shows a value (domains carry passwords)', () => {
    const err = violation((d) => one(d, 'devices/graphics').setAttr('passwd', 'new-secret'));
    expect(err.message).toContain("attribute 'passwd' changed");
    expect(err.message).not.toMatch(/s3cret|new-secret/);
  });

  test('the chain returns nothing when it refuses', () => {
    let result: unknown;
    try {
      result = runHooks(input, ctx, [rogue((d) => one(d, 'name').setText('other'))]);
    } catch {
      // expected
    }
    expect(result).toBeUndefined();
  });
});

describe('ABI guard lets through what libvirt allows', () => {
  const allowed: Array<[string, (d: DomainXml) => void]> = [
    ['any <cputune> content, even removing it', (d) => one(d, 'cputune').remove()],
    ['adding <numatune>', (d) => d.root.insert({ name: 'numatune', children: [{ name: 'memory', attrs: { mode: 'strict', nodeset: '0' } }] }, { after: one(d, 'cputune') })],
    ['adding <description>', (d) => d.root.insert({ name: 'description', text: 'migrated' }, { after: one(d, 'uuid') })],
    ['<metadata> content', (d) => one(d, 'metadata/kubevirt/uid').setText('changed')],
    ['a disk source file', (d) => one(d, 'devices/disk/source').setAttr('file', '/elsewhere/disk.img')],
  ];
  test.each(allowed)('%s', (_what, edit) => {
    const result = runHooks(input, ctx, [rogue(edit)]);
    expect(result.changed).toBe(true);
    expect(result.xml).not.toBe(input);
  });

  test('a disk block source dev', () => {
    const xml = readFileSync(join(GOLDEN_DIR, 'disk-namespace/scope-only-identity-paths/input.xml'), 'utf8');
    const result = runHooks(xml, ctx, [rogue((d) => (d.select('devices/disk/source').find((s) => s.attr('dev') !== undefined) ?? one(d, 'x')).setAttr('dev', '/dev/other'))]);
    expect(result.xml).toContain('dev="/dev/other"');
  });

  test('the NVRAM path (text of <os><nvram>), but not the loader next to it', () => {
    const xml = readFileSync(join(GOLDEN_DIR, 'disk-namespace/nvram-and-nocloud-arm64/input.xml'), 'utf8');
    const moved = runHooks(xml, ctx, [rogue((d) => one(d, 'os/nvram').setText('/var/lib/libvirt/qemu/nvram/other_VARS.fd'))]);
    expect(moved.xml).toContain('<nvram>/var/lib/libvirt/qemu/nvram/other_VARS.fd</nvram>');
    expect(() => runHooks(xml, ctx, [rogue((d) => one(d, 'os/loader').setText('/usr/share/other.fd'))])).toThrow(AbiViolation);
  });
});

describe('runChain', () => {
  test('reports every change (old → new), per-hook runs and timings, and the domain name', () => {
    const result = runChain(input, ctx);
    expect(result.domainName).toBe('default_vm-emu1');
    expect(result.changes).toEqual([
      { hook: 'cpu-dedicated', path: "/domain/cputune/vcpupin[@vcpu='0']/@cpuset", before: '6', after: '1' },
      { hook: 'cpu-dedicated', path: "/domain/cputune/vcpupin[@vcpu='1']/@cpuset", before: '7', after: '2' },
      { hook: 'cpu-dedicated', path: '/domain/cputune/emulatorpin/@cpuset', before: '8', after: '3' },
    ]);
    expect(result.hooks.map((h) => [h.name, h.ran, h.changes])).toEqual([
      ['cpu-dedicated', true, 3],
      ['disk-namespace', false, 0],
    ]);
    for (const h of result.hooks) expect(h.durationMs).toBeGreaterThanOrEqual(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(Math.max(...result.hooks.map((h) => h.durationMs)));
  });

  test('unchanged: the output is the input text itself', () => {
    const already = runChain(input, ctx).xml;
    const again = runChain(already, ctx);
    expect(again.changed).toBe(false);
    expect(again.xml).toBe(already);
  });

  test('a hook that edits to the same value leaves the text untouched and reports nothing', () => {
    const result = runHooks(input, ctx, [rogue((d) => one(d, 'cputune/vcpupin').setAttr('cpuset', '6'))]);
    expect(result.changed).toBe(false);
    expect(result.xml).toBe(input);
    expect(result.changes).toEqual([]);
  });

  test('hooks run in registry order whatever order they are named in', () => {
    const result = runChain(input, { ...ctx, sourceNamespace: 'a', targetNamespace: 'b' }, { hooks: ['disk-namespace', 'cpu-dedicated'] });
    expect(result.hooks.map((h) => h.name)).toEqual([...DEFAULT_HOOKS]);
  });

  test('only the named hooks run', () => {
    const result = runChain(input, ctx, { hooks: ['disk-namespace'] });
    expect(result.hooks.map((h) => h.name)).toEqual(['disk-namespace']);
    expect(result.changed).toBe(false);
  });

  test('an unknown hook name is an InputError that lists the valid names', () => {
    expect(() => runChain(input, ctx, { hooks: ['cpu-dedicated', 'tap-rename'] })).toThrow(new InputError('unknown hook "tap-rename"; valid hooks: cpu-dedicated, disk-namespace'));
  });

  test('malformed XML is an XmlError; a refusal is a HookRefusal', () => {
    expect(() => runChain('<domain><name>x</domain>', ctx)).toThrow(XmlError);
    expect(() => runChain(input, { ...ctx, cpuset: [3] })).toThrow(HookRefusal);
  });

  test('the size limit applies to the input', () => {
    expect(() => runChain(input, ctx, { maxBytes: 100 })).toThrow(XmlError);
  });
});
