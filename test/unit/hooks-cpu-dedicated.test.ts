import { join } from 'node:path';
import { HookRefusal } from '../../src/core/errors.js';
import { cpuDedicatedHook, readGuestCpuSignals } from '../../src/core/hooks/cpu-dedicated.js';
import type { HookContext } from '../../src/core/hooks/types.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import { DomainXml } from '../../src/core/xml/index.js';
import { SYSFS_FIXTURES } from '../golden/cases.js';

const twoSocket = readHostTopology(join(SYSFS_FIXTURES, '2s-smt2-interleaved'));
const flat = readHostTopology(join(SYSFS_FIXTURES, '1s-nosmt'));

function domain(body: string): string {
  return `<domain type='kvm'>\n  <name>t</name>\n${body}\n</domain>\n`;
}

function signals(body: string) {
  return readGuestCpuSignals(DomainXml.parse(domain(body)));
}

function apply(xml: string, ctx: HookContext): { xml: string; changes: ReturnType<typeof cpuDedicatedHook.apply> } {
  const doc = DomainXml.parse(xml);
  const changes = cpuDedicatedHook.apply(doc, ctx);
  return { xml: doc.serialize(), changes };
}

describe('reading the XML signals', () => {
  test("no <topology>: libvirt's default, one socket per vCPU", () => {
    expect(signals("  <vcpu>3</vcpu>")).toMatchObject({ maxVcpus: 3, sockets: 3, coresPerSocket: 1, threadsPerCore: 1, enabledVcpus: [0, 1, 2] });
  });

  test('topology with dies: dies multiply the cores per socket', () => {
    expect(signals("  <vcpu>16</vcpu>\n  <cpu><topology sockets='2' dies='2' cores='2' threads='2'/></cpu>")).toMatchObject({ sockets: 2, coresPerSocket: 4, threadsPerCore: 2 });
  });

  test('a topology that does not match <vcpu> is refused', () => {
    expect(() => signals("  <vcpu>4</vcpu>\n  <cpu><topology sockets='1' cores='2' threads='1'/></cpu>")).toThrow(
      new HookRefusal('cpu-dedicated', 'guest topology 1 socket(s) × 2 core(s) × 1 thread(s) does not match <vcpu>4</vcpu>'),
    );
  });

  test('hotplug: <vcpus> enabled="no" entries are not pinned; without <vcpus>, current= counts', () => {
    expect(signals("  <vcpu current='2'>4</vcpu>\n  <vcpus><vcpu id='0' enabled='yes'/><vcpu id='3' enabled='yes'/><vcpu id='1' enabled='no'/><vcpu id='2' enabled='no'/></vcpus>").enabledVcpus).toEqual([0, 3]);
    expect(signals("  <vcpu current='2'>4</vcpu>").enabledVcpus).toEqual([0, 1]);
  });

  test('emulator isolation: absent, one CPU, two CPUs', () => {
    expect(signals("  <vcpu>2</vcpu>").emulatorCpus).toBe(0);
    expect(signals("  <vcpu>2</vcpu>\n  <cputune><emulatorpin cpuset='9'/></cputune>").emulatorCpus).toBe(1);
    expect(signals("  <vcpu>2</vcpu>\n  <cputune><emulatorpin cpuset='8-9'/></cputune>").emulatorCpus).toBe(2);
  });

  test('iothreads: plain by default, supplemental when a disk lists <iothreads><iothread>, ids from <iothreadids>', () => {
    expect(signals("  <vcpu>2</vcpu>\n  <iothreads>2</iothreads>").iothreads).toEqual({ ids: [1, 2], supplemental: false });
    expect(
      signals("  <vcpu>2</vcpu>\n  <iothreads>1</iothreads>\n  <devices><disk><driver name='qemu'><iothreads><iothread id='1'/></iothreads></driver></disk></devices>").iothreads,
    ).toEqual({ ids: [1], supplemental: true });
    expect(signals("  <vcpu>2</vcpu>\n  <iothreads>2</iothreads>\n  <iothreadids><iothread id='4'/><iothread id='2'/></iothreadids>").iothreads?.ids).toEqual([2, 4]);
  });

  test('NUMA passthrough is recognised from <numatune><memnode>, guest cells from <cpu><numa>', () => {
    const s = signals("  <vcpu>2</vcpu>\n  <numatune><memory nodeset='0'/><memnode cellid='0' nodeset='0'/></numatune>\n  <cpu><numa><cell id='0' cpus='0-1' memory='1'/></numa></cpu>");
    expect(s.numaPassthrough).toBe(true);
    expect(s.guestCells).toEqual([{ id: 0, vcpus: [0, 1] }]);
    expect(signals("  <vcpu>2</vcpu>\n  <numatune><memory nodeset='0'/></numatune>").numaPassthrough).toBe(false);
  });

  test('a missing or non-numeric <vcpu> is refused', () => {
    expect(() => signals('  <cputune/>')).toThrow(/no valid <vcpu> count/);
    expect(() => signals('  <vcpu>two</vcpu>')).toThrow(/<vcpu> must be a non-negative integer/);
  });
});

describe('writing the pins', () => {
  test('applies only to domains with <vcpupin>', () => {
    expect(cpuDedicatedHook.appliesTo(DomainXml.parse(domain("  <vcpu>1</vcpu>\n  <cputune><emulatorpin cpuset='1'/></cputune>")), { cpuset: [0], host: flat })).toBe(false);
    expect(cpuDedicatedHook.appliesTo(DomainXml.parse(domain("  <vcpu>1</vcpu>\n  <cputune><vcpupin vcpu='0' cpuset='1'/></cputune>")), { cpuset: [0], host: flat })).toBe(true);
  });

  test('a missing vcpupin for an enabled vCPU is added after the others', () => {
    const xml = domain("  <vcpu>2</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='9'/>\n  </cputune>");
    const out = apply(xml, { cpuset: [2, 3], host: flat });
    expect(out.xml).toBe(domain("  <vcpu>2</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n    <vcpupin vcpu='1' cpuset='3'/>\n  </cputune>"));
    expect(out.changes.map((c) => [c.path, c.before, c.after])).toEqual([
      ["/domain/cputune/vcpupin[@vcpu='0']/@cpuset", '9', '2'],
      ["/domain/cputune/vcpupin[@vcpu='1']/@cpuset", null, '3'],
    ]);
  });

  test('NUMA passthrough: a missing memnode for a guest cell is added, nodesets become the host cells', () => {
    const xml = domain(
      [
        "  <vcpu>2</vcpu>",
        '  <cputune>',
        "    <vcpupin vcpu='0' cpuset='9'/>",
        "    <vcpupin vcpu='1' cpuset='10'/>",
        '  </cputune>',
        '  <numatune>',
        "    <memory mode='strict' nodeset='2-3'/>",
        "    <memnode cellid='0' mode='strict' nodeset='2'/>",
        '  </numatune>',
        "  <cpu>\n    <topology sockets='2' cores='1' threads='1'/>\n    <numa>\n      <cell id='0' cpus='0' memory='1'/>\n      <cell id='1' cpus='1' memory='1'/>\n    </numa>\n  </cpu>",
      ].join('\n'),
    );
    // cpuset 0,1: CPU 0 in host cell 0, CPU 1 in host cell 1 (interleaved host).
    const out = apply(xml, { cpuset: [0, 1], host: twoSocket });
    expect(out.xml).toContain("<memory mode='strict' nodeset='0-1'/>\n    <memnode cellid='0' mode='strict' nodeset='0'/>\n    <memnode cellid='1' mode='strict' nodeset='1'/>\n  </numatune>");
    expect(out.changes.at(-1)).toEqual({ hook: 'cpu-dedicated', path: "/domain/numatune/memnode[@cellid='1']/@nodeset", before: null, after: '1' });
  });

  test('a non-strict numatune memory mode becomes strict under NUMA passthrough', () => {
    const xml = domain("  <vcpu>1</vcpu>\n  <cputune><vcpupin vcpu='0' cpuset='0'/></cputune>\n  <numatune><memory mode='preferred' nodeset='0'/><memnode cellid='0' mode='strict' nodeset='0'/></numatune>");
    const out = apply(xml, { cpuset: [0], host: twoSocket });
    expect(out.changes).toEqual([{ hook: 'cpu-dedicated', path: '/domain/numatune/memory/@mode', before: 'preferred', after: 'strict' }]);
  });

  test('without NUMA passthrough a <numatune> is left alone', () => {
    const xml = domain("  <vcpu>1</vcpu>\n  <cputune><vcpupin vcpu='0' cpuset='5'/></cputune>\n  <numatune><memory mode='interleave' nodeset='0-3'/></numatune>");
    const out = apply(xml, { cpuset: [1], host: twoSocket });
    expect(out.changes.map((c) => c.path)).toEqual(["/domain/cputune/vcpupin[@vcpu='0']/@cpuset"]);
    expect(out.xml).toContain("<memory mode='interleave' nodeset='0-3'/>");
  });

  test('existing pins equal as CPU sets are not rewritten (idempotency, minimal diffs)', () => {
    const xml = domain("  <vcpu>4</vcpu>\n  <iothreads>1</iothreads>\n  <cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/><vcpupin vcpu='2' cpuset='2'/><vcpupin vcpu='3' cpuset='3'/><iothreadpin iothread='1' cpuset='3,2,1,0'/></cputune>");
    expect(apply(xml, { cpuset: [0, 1, 2, 3], host: flat }).changes).toEqual([]);
  });
});
