/**
 * disk-namespace beyond the golden cases: the reasons it gives when it leaves a domain alone, the
 * cross-checks of the target identity, and a sweep over every corpus domain under many
 * identities (idempotent; nothing but identity-bearing paths ever changes).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runChain } from '../../src/core/chain.js';
import { InputError } from '../../src/core/errors.js';
import { diskNamespaceHook, identityBearingPaths } from '../../src/core/hooks/disk-namespace.js';
import type { HookContext } from '../../src/core/hooks/types.js';
import { DomainXml, type XmlElement } from '../../src/core/xml/index.js';

const host = { online: [0], cells: [{ id: 0, cpus: [0], hugepages: [], memoryOnly: false }], cpus: new Map() };
const base = (extra: Partial<HookContext> = {}): HookContext => ({ cpuset: [0], host, ...extra });
const pod = (ns: string, vm: string): Partial<HookContext> => ({ domainName: `${ns}_${vm}`, podNamespace: ns, vmiName: vm });

const EPH = '/var/run/kubevirt-ephemeral-disks/cloud-init-data';
function domain(name: string, isos: string[], nvram?: string): string {
  const os = nvram === undefined ? '' : `<os><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS.fd'>${nvram}</nvram></os>`;
  const disks = isos.map((f, i) => `<disk type='file' device='disk'><source file='${f}'/><target dev='vd${String.fromCharCode(97 + i)}'/></disk>`).join('');
  return `<domain type='kvm'><name>${name}</name>${os}<devices>${disks}</devices></domain>`;
}
const run = (xml: string, ctx: HookContext) => runChain(xml, ctx, { hooks: ['disk-namespace'] });

describe('a move', () => {
  test('namespace and name move in every identity-bearing path, reported one change each', () => {
    const input = domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`, `${EPH}/nsa/vma/configdrive.iso`], '/var/run/kubevirt-private/libvirt/qemu/nvram/vma_VARS.fd');
    const r = run(input, base(pod('nsb', 'vmb')));
    expect(r.changes.map((c) => [c.path, c.before, c.after])).toEqual([
      ["/domain/devices/disk[@dev='vda']/source/@file", `${EPH}/nsa/vma/noCloud.iso`, `${EPH}/nsb/vmb/noCloud.iso`],
      ["/domain/devices/disk[@dev='vdb']/source/@file", `${EPH}/nsa/vma/configdrive.iso`, `${EPH}/nsb/vmb/configdrive.iso`],
      ['/domain/os/nvram', '/var/run/kubevirt-private/libvirt/qemu/nvram/vma_VARS.fd', '/var/run/kubevirt-private/libvirt/qemu/nvram/vmb_VARS.fd'],
    ]);
    expect(r.notes).toEqual([]);
  });

  test('without pod facts the target comes from <name> alone', () => {
    const r = run(domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`]), base());
    expect(r.changes.map((c) => c.after)).toEqual([`${EPH}/nsb/vmb/noCloud.iso`]);
  });

  test('a namespace that spells part of the base: upstream\'s /<ns>/ segment replace hit /run/, and the base is restored', () => {
    const r = run(domain('nsb_vmb', ['/var/nsb/kubevirt-ephemeral-disks/cloud-init-data/run/vma/noCloud.iso']), base(pod('nsb', 'vmb')));
    expect(r.changes.map((c) => c.after)).toEqual([`${EPH}/nsb/vmb/noCloud.iso`]);
  });

  test('an explicit --target-namespace replaces the namespace read from <name>; the name still comes from <name>', () => {
    const r = run(domain('nsa_vma', [`${EPH}/nsa/vma/noCloud.iso`]), base({ targetNamespace: 'nsz' }));
    expect(r.changes.map((c) => c.after)).toEqual([`${EPH}/nsz/vma/noCloud.iso`]);
  });
});

describe('nothing to do: the hook is skipped', () => {
  test.each([
    ['no identity-bearing path', domain('nsb_vmb', ['/var/run/kubevirt-private/vmi-disks/nsa/disk.img'])],
    ['everything already names the target', domain('nsb_vmb', [`${EPH}/nsb/vmb/noCloud.iso`], '/var/lib/libvirt/qemu/nvram/vmb_VARS.fd')],
  ])('%s', (_what, input) => {
    const r = run(input, base(pod('nsb', 'vmb')));
    expect(r.hooks).toEqual([expect.objectContaining({ name: 'disk-namespace', ran: false })]);
    expect(r.xml).toBe(input);
  });
});

describe('unclear facts: the domain is left unchanged and the note says why', () => {
  test.each([
    ['two source VMI names', domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`], '/var/lib/libvirt/qemu/nvram/vmc_VARS.fd'), pod('nsb', 'vmb'), /ambiguous: the paths name the VMIs vma, vmc/],
    ['two source namespaces', domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`, `${EPH}/nsc/vma/configdrive.iso`]), pod('nsb', 'vmb'), /ambiguous: the paths name the namespaces nsa, nsc/],
    ['the hook argument differs from <name>', domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`]), { domainName: 'nsb_other' }, /called the hook for domain "nsb_other" but the domain XML is named "nsb_vmb"/],
    ['the pod namespace differs', domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`]), { podNamespace: 'nsq' }, /says namespace nsb, but this pod runs in namespace nsq/],
    ['the VMI name differs', domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`]), { vmiName: 'vmq' }, /says VMI vmb, but this pod runs VMI vmq/],
    ['<name> is not <ns>_<vmi>', domain('guest', [`${EPH}/nsa/vma/noCloud.iso`]), {}, /cannot read the target identity: the domain name "guest"/],
    ['a path under a third namespace with --source-namespace', domain('nsb_vmb', [`${EPH}/nsx/vma/noCloud.iso`]), { sourceNamespace: 'nsa' }, /under namespace nsx, neither the given source namespace nsa nor the target nsb/],
  ])('%s', (_what, input, extra, why) => {
    const r = run(input, base(extra));
    expect(r.xml).toBe(input);
    expect(r.changed).toBe(false);
    expect(r.hooks).toEqual([expect.objectContaining({ name: 'disk-namespace', ran: true, changes: 0 })]);
    expect(r.notes).toHaveLength(1);
    expect(r.notes?.[0]).toMatch(/^disk-namespace: left the domain unchanged: /);
    expect(r.notes?.[0]).toMatch(why);
  });

  test('a namespace or VMI name that is not a Kubernetes name is an InputError', () => {
    const d = DomainXml.parse(domain('nsb_vmb', [`${EPH}/nsa/vma/noCloud.iso`]));
    expect(() => diskNamespaceHook.appliesTo(d, base({ targetNamespace: '../etc' }))).toThrow(new InputError('target namespace "../etc" is not a valid Kubernetes namespace name'));
    expect(() => diskNamespaceHook.appliesTo(d, base({ vmiName: 'a/b' }))).toThrow(InputError);
  });
});

// ---- the sweep ----

const CORPORA = [join(import.meta.dirname, '../fixtures/corpus'), join(import.meta.dirname, '../../../shared/corpus')];
function corpusFiles(): string[] {
  const seen = new Map<string, string>();
  for (const root of CORPORA) {
    for (const kind of ['kubevirt', 'libvirt', 'edge']) {
      const dir = join(root, kind);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (f.endsWith('.xml') && !seen.has(`${kind}/${f}`)) seen.set(`${kind}/${f}`, join(dir, f));
    }
  }
  return [...seen.values()];
}

/** Every attribute value and leaf text of a document, keyed by a positional path. */
function leaves(doc: DomainXml): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (el: XmlElement, at: string): void => {
    for (const n of el.attrNames()) out.set(`${at}/@${n}`, el.attr(n) ?? '');
    const kids = el.elements();
    if (kids.length === 0) out.set(`${at}/text()`, el.text());
    kids.forEach((k, i) => walk(k, `${at}/${k.name}[${i}]`));
  };
  walk(doc.root, '/domain');
  return out;
}

/** The positional key of the value an identity-bearing report path points at. */
function allowedKeys(doc: DomainXml): Set<string> {
  const keys = new Set<string>();
  const disks = doc.root.first('devices')?.elements() ?? [];
  const devicesAt = `/domain/devices[${doc.root.elements().findIndex((e) => e.name === 'devices')}]`;
  const osAt = `/domain/os[${doc.root.elements().findIndex((e) => e.name === 'os')}]`;
  for (const where of identityBearingPaths(doc)) {
    const disk = /^\/domain\/devices\/disk(?:\[@dev='([^']*)'\]|\[(\d+)\])\/source\/@file$/.exec(where);
    if (disk) {
      const all = disks.filter((d) => d.name === 'disk');
      const el = disk[1] !== undefined ? all.find((d) => d.first('target')?.attr('dev') === disk[1]) : all[Number(disk[2]) - 1];
      const src = el?.first('source');
      if (el && src) keys.add(`${devicesAt}/disk[${disks.indexOf(el)}]/source[${el.elements().indexOf(src)}]/@file`);
    } else if (where === '/domain/os/nvram') {
      const os = doc.root.first('os');
      const nv = os?.first('nvram');
      if (os && nv) keys.add(`${osAt}/nvram[${os.elements().indexOf(nv)}]/text()`);
    } else if (where === '/domain/os/nvram/source/@file') {
      const os = doc.root.first('os');
      const nv = os?.first('nvram');
      const src = nv?.first('source');
      if (os && nv && src) keys.add(`${osAt}/nvram[${os.elements().indexOf(nv)}]/source[${nv.elements().indexOf(src)}]/@file`);
    }
  }
  return keys;
}

describe('every corpus domain, under many identities', () => {
  const files = corpusFiles();
  // The corpus as each would arrive at a decentralized target, and as it is (a same-identity or
  // unreadable name), with and without explicit flags.
  const contexts: Array<[string, (name: string) => { name: string; ctx: HookContext }]> = [
    ['as is, no facts', (name) => ({ name, ctx: base() })],
    ['renamed to nsb_vmb with pod facts', () => ({ name: 'nsb_vmb', ctx: base(pod('nsb', 'vmb')) })],
    ['renamed to other-ns_testvmi', () => ({ name: 'other-ns_testvmi', ctx: base(pod('other-ns', 'testvmi')) })],
    ['explicit flags ns-a → ns-b', (name) => ({ name, ctx: base({ sourceNamespace: 'mynamespace', targetNamespace: 'ns-b' }) })],
  ];

  it('covers the corpus, and some domains actually move', () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  test.each(contexts)('%s: idempotent, and only identity-bearing paths change', (_label, make) => {
    let moved = 0;
    for (const file of files) {
      const original = readFileSync(file, 'utf8');
      const oldName = /<name>([^<]*)<\/name>/.exec(original)?.[1];
      const { name, ctx } = make(oldName ?? '');
      // libvirt renames <name> to the DestName before it calls the hook.
      const input = oldName === undefined ? original : original.replace(`<name>${oldName}</name>`, `<name>${name}</name>`);
      let result;
      try {
        result = run(input, ctx);
      } catch (err) {
        // Only inputs the XML layer refuses may throw (edge cases such as a DOCTYPE).
        expect((err as Error).name).toMatch(/XmlError/);
        continue;
      }
      if (!result.changed) {
        expect(result.xml).toBe(input);
        continue;
      }
      moved++;
      const before = DomainXml.parse(input);
      const after = DomainXml.parse(result.xml);
      const allowed = allowedKeys(before);
      const a = leaves(after);
      const changedKeys = [...leaves(before)].filter(([k, v]) => a.get(k) !== v).map(([k]) => k);
      expect({ file, changed: changedKeys.filter((k) => !allowed.has(k)) }).toEqual({ file, changed: [] });
      expect(changedKeys.length).toBe(result.changes.length);
      const again = run(result.xml, ctx);
      expect({ file, changed: again.changed, notes: again.notes }).toEqual({ file, changed: false, notes: [] });
    }
    if (_label !== 'as is, no facts') expect(moved).toBeGreaterThan(0);
  });
});
