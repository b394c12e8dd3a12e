/**
 * What `mutate` and `explain` share: their flags, reading the domain from stdin, building the
 * hook context, and the one-line error contract (exit 2 + one stderr line for a refusal, bad
 * input or bad flags; anything else is a fault and exits 1 through cli.ts).
 */
import { parseFlags, parseList, usageText, type FlagTable } from '../../shared/flags.js';
import { InputError, PremigrationError, XmlError } from '../../core/errors.js';
import { isDnsLabel } from '../../core/names.js';
import type { HookContext } from '../../core/hooks/types.js';
import { DEFAULT_HOOKS, hookNames } from '../../core/hooks/registry.js';
import { parseCpuList } from '../../core/topology/index.js';
import { readHostTopology } from '../../node/index.js';
import type { HostTopology } from '../../core/topology/index.js';
import { DEFAULT_MAX_XML_BYTES } from '../../core/xml/index.js';
import { REGISTRY } from '../../core/hooks/registry.js';
import type { ChainOptions } from '../../core/chain.js';
import type { CompiledSiteHook, Facts, SiteHookSkip, AllowList } from '../../core/site-hooks/index.js';
import { readCgroupCpuset } from '../../node/index.js';
import { cliSiteEntries, loadSiteHooksFile, parseAllowFlags, parseFactFlags } from './site-hook-flags.js';

export interface ChainFlags {
  cpuset: number[];
  /** Directory playing /sys. */
  sysfs: string;
  /** undefined = the default hook set. */
  hooks: string[] | undefined;
  sourceNamespace: string | undefined;
  targetNamespace: string | undefined;
  /** From --site-hooks, validated, in run order; [] without the flag. */
  siteHooks: CompiledSiteHook[];
  /** From --fact. */
  facts: Facts;
  allow: AllowList;
  /** false: no --cpuset with --site-hooks, so only the site hooks run (the built-ins need the target's cpuset). */
  cpusetGiven: boolean;
  /** ${cpuset} and ${numa.nodes} are measured; false when neither --cpuset nor this machine's cpuset and topology are known, so only --fact supplies them. */
  measureFacts?: boolean;
}

const FLAGS: FlagTable = {
  cpuset: { value: '<list>', help: 'the target compute container\'s exclusive CPUs, e.g. 2-5,10 (required)' },
  sysfs: { value: '<root>', help: 'directory that plays /sys for the node topology (default /sys)' },
  hooks: { value: '<a,b>', help: `hooks to run (default: ${DEFAULT_HOOKS.join(',')}); they run in registry order` },
  'source-namespace': { value: '<ns>', help: 'disk-namespace: the namespace the VM comes from (default: read from its cloud-init paths)' },
  'target-namespace': { value: '<ns>', help: 'disk-namespace: the namespace it lands in (default: read from <name>, <namespace>_<vmi>)' },
  'site-hooks': { value: '<file>', help: 'YAML file of SiteHook objects (---separated) to run after the built-in hooks' },
  fact: { value: '<name=value>', multiple: true, help: 'a fact for ${...} in site hooks (node.name, pod.name, pod.namespace, vmi.name; repeatable)' },
  'site-hook-allow': { value: '<path>', multiple: true, help: 'extend the site-hook allow-list (repeatable or a,b); a risk: see docs/site-hooks.md' },
};

export function chainUsage(command: string, summary: string): string {
  return usageText(
    command,
    '--cpuset <list> [--sysfs <root>] [--hooks <a,b>] [--source-namespace X] [--target-namespace Y] [--site-hooks FILE --fact NAME=VALUE...] < domain.xml',
    FLAGS,
    summary,
  ) + 'Exit 0: done. Exit 2: a hook refused, the input is bad, or a flag is wrong (one line on stderr).\n';
}

/** Parses argv; returns 'help' for -h/--help. Throws InputError for anything wrong. */
export function parseChainFlags(argv: string[]): ChainFlags | 'help' {
  const { values, lists, help } = parseFlags(FLAGS, argv);
  if (help) return 'help';
  const allow = parseAllowFlags(lists.get('site-hook-allow'));
  const facts = parseFactFlags(lists.get('fact') ?? []);
  const siteFile = values.get('site-hooks');
  const siteHooks = siteFile !== undefined ? loadSiteHooksFile(siteFile, allow) : [];
  const cpusetText = values.get('cpuset');
  if (cpusetText === undefined && siteFile === undefined) throw new InputError('--cpuset is required: the target compute container\'s exclusive CPUs, e.g. --cpuset 2-5');
  const own = cpusetText === undefined ? ownCpuset() : undefined;
  const cpuset = cpusetText !== undefined ? parseCpuList(cpusetText) : (own ?? []);
  if (cpusetText !== undefined && cpuset.length === 0) throw new InputError('--cpuset is empty: a dedicated-CPU target has at least one exclusive CPU');
  const src = values.get('source-namespace');
  const dst = values.get('target-namespace');
  for (const [flag, ns] of [['source-namespace', src], ['target-namespace', dst]] as const) {
    if (ns !== undefined && !isDnsLabel(ns)) throw new InputError(`--${flag} is not a valid namespace name: "${ns}"`);
  }
  let hooks: string[] | undefined;
  if (values.has('hooks')) {
    hooks = parseList(values.get('hooks'));
    if (hooks === undefined) throw new InputError(`--hooks is empty; valid hooks: ${hookNames().join(', ')}`);
  }
  if (cpusetText === undefined && hooks !== undefined) throw new InputError('--hooks selects built-in hooks, which need --cpuset');
  return { cpuset, sysfs: values.get('sysfs') ?? '/sys', hooks, sourceNamespace: src, targetNamespace: dst, siteHooks, facts, allow, cpusetGiven: cpusetText !== undefined, measureFacts: cpusetText !== undefined || own !== undefined };
}

/** The site-hook part of ChainFlags when there are none (for callers that build flags themselves). */
export const NO_SITE_HOOKS: Pick<ChainFlags, 'siteHooks' | 'facts' | 'allow' | 'cpusetGiven'> = { siteHooks: [], facts: {}, allow: parseAllowFlags([]), cpusetGiven: true };

/** This process's cpuset: what ${cpuset} means when only site hooks run; undefined when unreadable. */
function ownCpuset(): number[] | undefined {
  try {
    const cpus = readCgroupCpuset().cpus;
    return cpus.length > 0 ? cpus : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The node topology for these flags. With --cpuset it must be readable (the built-in hooks need
 * it); with only site hooks, an unreadable one just means ${numa.nodes} is not measured.
 */
export function hostFor(flags: ChainFlags): HostTopology {
  if (flags.cpusetGiven) return loadHost(flags.sysfs);
  try {
    return loadHost(flags.sysfs);
  } catch {
    flags.measureFacts = false;
    return { online: [], cells: [], cpus: new Map() };
  }
}

/**
 * The chain options for these flags: the built-ins chosen by --hooks (none without --cpuset),
 * then every site hook of --site-hooks, in order then name. `skips` collects the site hooks
 * passed over under onError: pass.
 */
export function chainOptionsFor(flags: ChainFlags, skips: SiteHookSkip[] = []): ChainOptions {
  if (flags.siteHooks.length === 0) return flags.hooks ? { hooks: flags.hooks } : {};
  const entries = cliSiteEntries(flags.siteHooks, flags.facts, flags.allow, skips, flags.measureFacts !== false);
  const registry = REGISTRY.with(entries);
  const builtIns = flags.cpusetGiven ? REGISTRY.resolve(flags.hooks).map((e) => e.name) : [];
  return { registry, hooks: [...builtIns, ...entries.map((e) => e.name)] };
}

export function loadHost(sysfs: string): HostTopology {
  try {
    return readHostTopology(sysfs);
  } catch (err) {
    if (err instanceof PremigrationError) throw err;
    throw new InputError(`cannot read the node topology under ${sysfs}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function contextFor(flags: ChainFlags, host: HostTopology): HookContext {
  const ctx: HookContext = { cpuset: flags.cpuset, host };
  if (flags.sourceNamespace !== undefined) ctx.sourceNamespace = flags.sourceNamespace;
  if (flags.targetNamespace !== undefined) ctx.targetNamespace = flags.targetNamespace;
  return ctx;
}

/**
 * The whole of stdin as text, refusing more than maxBytes and bytes that are not UTF-8 (decoding
 * them with replacement characters would silently change the domain).
 */
export async function readStdin(maxBytes = DEFAULT_MAX_XML_BYTES, stream: AsyncIterable<Buffer | string> = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > maxBytes) throw new XmlError(`input is larger than the ${maxBytes}-byte limit`, 'too-large');
    chunks.push(buf);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new XmlError('input is not valid UTF-8', 'malformed');
  }
}


