/**
 * Warm-up: run the chain once at start on a small KubeVirt-shaped dedicated-CPU domain, so the
 * parser, the hooks, the ABI guard and the serializer are loaded and compiled before the first
 * real migration asks (which otherwise pays tens of milliseconds of lazy loading and JIT).
 *
 * The domain is embedded rather than shipped as a file: it then travels inside dist/ with the
 * code that needs it, and no path lookup can fail in the image.
 */
import type { ChainOptions, ChainResult } from '../chain.js';
import { HookRefusal } from '../errors.js';
import type { HookContext } from '../hooks/types.js';
import type { HostTopology } from '../topology/types.js';

/**
 * Two dedicated vCPUs with an isolated emulator thread, pinned to CPUs that no test host has,
 * so that the placement runs and the document is edited, re-parsed and checked in full.
 */
export const WARMUP_DOMAIN = `<domain type='kvm'>
  <name>premigration-hooks_warmup</name>
  <uuid>00000000-0000-4000-8000-000000000000</uuid>
  <metadata>
    <kubevirt xmlns="http://kubevirt.io">
      <uid>00000000-0000-4000-8000-000000000001</uid>
    </kubevirt>
  </metadata>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='1000'/>
    <vcpupin vcpu='1' cpuset='1001'/>
    <emulatorpin cpuset='1002'/>
  </cputune>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <features>
    <acpi/>
    <kvm>
      <hint-dedicated state='on'/>
    </kvm>
  </features>
  <cpu mode='host-model'>
    <topology sockets='1' dies='1' cores='2' threads='1'/>
  </cpu>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' passwd='warmup-not-a-secret'>
      <listen type='socket' socket='/var/run/kubevirt-private/warmup/virt-vnc'/>
    </graphics>
    <memballoon model='none'/>
  </devices>
</domain>
`;

export type WarmupOutcome =
  | { status: 'changed' | 'unchanged'; result: ChainResult }
  /** A refusal still ran parse, hooks and placement: the warm-up did its job. */
  | { status: 'refused'; message: string }
  /**
   * Anything else is a bug in the chain. The server starts anyway: requests will then fail, and
   * the client's on_error policy (not a crash-looping sidecar) decides what the migration does.
   */
  | { status: 'failed'; message: string };

/** Run the chain on WARMUP_DOMAIN with the whole host as cpuset. Never throws. */
export function warmUp(
  runChain: (xml: string, ctx: HookContext, opts: ChainOptions) => ChainResult,
  host: HostTopology,
  opts: ChainOptions,
): WarmupOutcome {
  const ctx: HookContext = { cpuset: host.online, host };
  try {
    const result = runChain(WARMUP_DOMAIN, ctx, opts);
    return { status: result.changed ? 'changed' : 'unchanged', result };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { status: err instanceof HookRefusal ? 'refused' : 'failed', message };
  }
}
