/**
 * What a start-up warm-up would buy (bench/chain.ts "what if" rows). The server shipped one until
 * the lean start (docs/hook-server.md): under the sidecar's CPU limit it cost more start-up than
 * it saved on the first call. Kept here to measure that trade-off.
 *
 * Warm-up: run the chain once at start on a small KubeVirt-shaped dedicated-CPU domain, so the
 * parser, the hooks, the ABI guard and the serializer are loaded and compiled before the first
 * real migration asks (which otherwise pays tens of milliseconds of lazy loading and JIT).
 *
 * The domain is embedded rather than shipped as a file: it then travels inside dist/ with the
 * code that needs it, and no path lookup can fail in the image.
 */
import type { ChainOptions, ChainResult } from '../src/core/chain.js';
import { HookRefusal } from '../src/core/errors.js';
import type { HookContext } from '../src/core/hooks/types.js';
import type { HostCpu, HostTopology } from '../src/core/topology/index.js';

/**
 * Shaped like a real KubeVirt dedicated-CPU domain (SMT guest core, isolated emulator, an iothread,
 * NUMA passthrough, hugepages, disks, a VNC password) with pins no host has, so that every path a
 * real call takes (placement, numatune, edits, serialize, ABI guard) runs. A warm-up on a smaller
 * domain leaves most of that cold; the first real call then costs several times the steady state.
 */
export const WARMUP_DOMAIN = `<domain type='kvm'>
  <name>premigration-hooks_warmup</name>
  <uuid>00000000-0000-4000-8000-000000000000</uuid>
  <metadata>
    <kubevirt xmlns="http://kubevirt.io">
      <uid>00000000-0000-4000-8000-000000000001</uid>
      <graceperiod>
        <deletionGracePeriodSeconds>30</deletionGracePeriodSeconds>
      </graceperiod>
    </kubevirt>
  </metadata>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <memoryBacking>
    <hugepages>
      <page size='2048' unit='KiB' nodeset='0'/>
    </hugepages>
  </memoryBacking>
  <vcpu placement='static'>2</vcpu>
  <iothreads>1</iothreads>
  <cputune>
    <vcpupin vcpu='0' cpuset='1000'/>
    <vcpupin vcpu='1' cpuset='1064'/>
    <emulatorpin cpuset='1001'/>
    <iothreadpin iothread='1' cpuset='1001'/>
  </cputune>
  <numatune>
    <memory mode='strict' nodeset='7'/>
    <memnode cellid='0' mode='strict' nodeset='7'/>
  </numatune>
  <sysinfo type='smbios'>
    <system>
      <entry name='manufacturer'>KubeVirt</entry>
      <entry name='uuid'>00000000-0000-4000-8000-000000000000</entry>
    </system>
  </sysinfo>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <smbios mode='sysinfo'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <kvm>
      <hint-dedicated state='on'/>
    </kvm>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <topology sockets='1' dies='1' cores='1' threads='2'/>
    <numa>
      <cell id='0' cpus='0-1' memory='65536' unit='KiB' memAccess='shared'/>
    </numa>
  </cpu>
  <clock offset='utc'/>
  <devices>
    <emulator>/usr/libexec/qemu-kvm</emulator>
    <disk type='file' device='disk' model='virtio-non-transitional'>
      <driver name='qemu' type='raw' cache='none' error_policy='stop' discard='unmap' iothread='1'/>
      <source file='/var/run/kubevirt-private/vmi-disks/rootdisk/disk.img'/>
      <target dev='vda' bus='virtio'/>
      <alias name='ua-rootdisk'/>
    </disk>
    <interface type='ethernet'>
      <mac address='02:00:00:00:00:01'/>
      <target dev='tap0' managed='no'/>
      <model type='virtio-non-transitional'/>
    </interface>
    <graphics type='vnc' autoport='no' passwd='warmup-not-a-secret'>
      <listen type='socket' socket='/var/run/kubevirt-private/warmup/virt-vnc'/>
    </graphics>
    <memballoon model='none'/>
  </devices>
</domain>
`;

export type WarmupOutcome =
  | { status: 'changed' | 'unchanged'; rounds: number; result: ChainResult }
  /** A refusal still ran parse, hooks and placement: the warm-up did part of its job. */
  | { status: 'refused'; rounds: number; message: string }
  /**
   * Anything else is a bug in the chain. The server starts anyway: requests will then fail, and
   * the client's on_error policy (not a crash-looping sidecar) decides what the migration does.
   */
  | { status: 'failed'; rounds: number; message: string };

/**
 * A synthetic one-cell, 2-core SMT-2 host (CPUs 0-3), not the node's: on a small or heavily
 * partitioned node the warm-up domain might not fit, and a refusal stops before the edit,
 * serialize and guard code it is meant to compile. Placement results are thrown away anyway.
 */
export function warmupHost(): HostTopology {
  const cpus = new Map<number, HostCpu>();
  for (const id of [0, 1, 2, 3]) cpus.set(id, { id, node: 0, coreId: id % 2, packageId: 0, siblings: id % 2 === 0 ? [0, 2] : [1, 3] });
  return { online: [0, 1, 2, 3], cells: [{ id: 0, cpus: [0, 1, 2, 3], hugepages: [], memoryOnly: false }], cpus };
}

/**
 * Rounds of the chain at start. One round loads the code; V8 optimises a function only after it
 * has run a number of times, so some rounds (about 1 ms each at first, far less once optimised; ~0.1 s in all on a
 * busy 2-core machine) bring the first real call close to the steady-state time. See bench/RESULTS.md.
 */
export const WARMUP_ROUNDS = 100;

/** Run the chain on WARMUP_DOMAIN `rounds` times against warmupHost(). Never throws. */
export function warmUp(
  runChain: (xml: string, ctx: HookContext, opts: ChainOptions) => ChainResult,
  opts: ChainOptions,
  rounds = WARMUP_ROUNDS,
): WarmupOutcome {
  const host = warmupHost();
  const ctx: HookContext = { cpuset: host.online, host };
  let result: ChainResult | undefined;
  let done = 0;
  try {
    for (; done < rounds; done++) result = runChain(WARMUP_DOMAIN, ctx, opts);
    return { status: result?.changed ? 'changed' : 'unchanged', rounds: done, result: result as ChainResult };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { status: err instanceof HookRefusal ? 'refused' : 'failed', rounds: done, message };
  }
}
