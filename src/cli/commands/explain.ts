/**
 * `premigration-hooks explain`: what `mutate` would do, for a human. Same flags and input; prints
 * the target facts, a unified diff of the changed lines, which hooks ran, and every change as
 * before → after. Graphics passwords in the shown lines are masked.
 */
import { runChain, type ChainResult } from '../../core/chain.js';
import { correctedVcpus } from '../../core/hooks/cpu-dedicated.js';
import { formatCpuList } from '../../core/topology/index.js';
import { describeTopology } from '../../core/topology/index.js';
import type { HostTopology } from '../../core/topology/index.js';
import { reportUsageError } from '../../shared/flags.js';
import { chainOptionsFor, chainUsage, contextFor, hostFor, parseChainFlags, readStdin, type ChainFlags } from './chain-flags.js';
import type { CompiledSiteHook, SiteHookSkip } from '../../core/site-hooks/index.js';
import { unifiedDiff } from './line-diff.js';

/** Mask passwd='…' (VNC/SPICE) in a line shown to the user. */
export function maskSecrets(line: string): string {
  return line.replace(/(\bpasswd\s*=\s*)(["'])[^"']*\2/g, '$1$2***$2');
}

function ms(value: number): string {
  return `${value < 1 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export interface ExplainInput {
  input: string;
  result: ChainResult;
  flags: Pick<ChainFlags, 'cpuset' | 'sysfs' | 'sourceNamespace' | 'targetNamespace'> & Partial<Pick<ChainFlags, 'siteHooks' | 'facts' | 'cpusetGiven'>>;
  host: HostTopology;
  /** Site hooks passed over under onError: pass, with the reason. */
  skips?: readonly SiteHookSkip[];
}

function describeEdit(e: CompiledSiteHook['spec']['edits'][number]): string {
  const what = e.set !== undefined ? `set ${JSON.stringify(e.set)}` : e.remove ? 'remove' : `appendXML ${e.appendXML!.trim().replace(/\s*\n\s*/g, ' ')}`;
  return `${e.select}: ${what}${e.require ? ' (require)' : ''}`;
}

/** The whole report, as text (pure, for tests and the demo). */
export function renderExplanation({ input, result, flags, host, skips = [] }: ExplainInput): string {
  const out: string[] = [];
  const usable = flags.cpuset.filter((c) => host.cpus.has(c)).length;
  out.push(`domain:  ${result.domainName || '(unnamed)'}`);
  out.push(`target:  cpuset ${formatCpuList(flags.cpuset)} (${plural(flags.cpuset.length, 'CPU')}${usable < flags.cpuset.length ? `, ${usable} online` : ''}) on a node with ${describeTopology(host)} [${flags.sysfs}]`);
  if (flags.sourceNamespace !== undefined || flags.targetNamespace !== undefined) {
    out.push(`         namespace ${flags.sourceNamespace ?? '(from the paths)'} → ${flags.targetNamespace ?? '(from <name>)'}`);
  }
  const facts = Object.entries(flags.facts ?? {});
  if (facts.length > 0) out.push(`facts:   ${facts.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (flags.cpusetGiven === false) out.push('         no --cpuset: only the site hooks run (the built-in hooks need the target\'s cpuset)');
  out.push('');

  if (result.changed) {
    out.push('--- domain XML from the source');
    out.push('+++ domain XML for this target');
    out.push(unifiedDiff(input, result.xml, 2, maskSecrets).trimEnd());
  } else {
    out.push('No change: the domain already fits this target; mutate would print it unchanged.');
  }
  out.push('');

  out.push('hooks (in order):');
  const width = Math.max(...result.hooks.map((h) => h.name.length), 4);
  for (const hook of result.hooks) {
    const what = hook.ran ? `ran      ${plural(hook.changes, 'change')}` : 'skipped  (does not apply to this domain)';
    out.push(`  ${hook.name.padEnd(width)}  ${what.padEnd(20)}  ${ms(hook.durationMs)}`);
  }
  if (result.notes && result.notes.length > 0) {
    out.push('');
    out.push('notes:');
    for (const n of result.notes) out.push(`  ${n}`);
  }
  const siteHooks = flags.siteHooks ?? [];
  if (siteHooks.length > 0) {
    out.push('');
    out.push('site hooks (order, name: edits):');
    for (const h of siteHooks) {
      const run = result.hooks.find((r) => r.name === `site:${h.name}`);
      const skip = skips.find((k) => k.hook === `site:${h.name}`);
      const status = skip ? `skipped (onError: pass): ${skip.reason}` : `${plural(run?.changes ?? 0, 'change')}`;
      out.push(`  ${h.spec.order} site:${h.name}: ${status}`);
      h.spec.edits.forEach((e, i) => out.push(`      ${i + 1}. ${describeEdit(e)}`));
    }
  }
  if (result.changes.length > 0) {
    out.push('');
    out.push('changes (before → after):');
    const label = (path: string): string => path.replace(/^\/domain\//, '');
    const w = Math.max(...result.changes.map((c) => label(c.path).length));
    const hw = siteHooks.length > 0 ? Math.max(...result.changes.map((c) => c.hook.length)) : 0;
    for (const change of result.changes) {
      const who = siteHooks.length > 0 ? `${change.hook.padEnd(hw)}  ` : '';
      out.push(`  ${who}${label(change.path).padEnd(w)}  ${change.before ?? '(none)'} → ${change.after ?? '(removed)'}`);
    }
  }
  const corrections = [...new Set(result.changes.flatMap((c) => (c.correction !== undefined ? [`${c.hook}: ${c.correction}`] : [])))];
  const misPinned = correctedVcpus(result.changes);
  if (corrections.length > 0) {
    out.push('');
    out.push(`corrected placement: the domain arrived pinned inside this cpuset, but not where this node's topology puts vCPU ${misPinned.join(',')}:`);
    for (const line of corrections) out.push(`  ${line}`);
  }
  out.push('');
  const what = misPinned.length > 0 ? `, correcting mis-pinned vCPU ${misPinned.join(',')}` : '';
  out.push(`result:  ${result.changed ? `${plural(result.changes.length, 'change')}${what}, ABI guard passed` : 'unchanged'}; ${ms(result.durationMs)} in the chain`);
  return `${out.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const flags = parseChainFlags(argv);
    if (flags === 'help') {
      process.stdout.write(chainUsage('explain', 'Show what mutate would change, and why, as a readable diff and summary.'));
      return 0;
    }
    const host = hostFor(flags);
    const input = await readStdin();
    const skips: SiteHookSkip[] = [];
    const result = runChain(input, contextFor(flags, host), chainOptionsFor(flags, skips));
    process.stdout.write(renderExplanation({ input, result, flags, host, skips }));
    return 0;
  } catch (err) {
    return reportUsageError('explain', err);
  }
}
