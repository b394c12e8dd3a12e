/**
 * `premigration-hooks serve` flags and PREMIGRATION_HOOKS_* environment → validated settings.
 * Pure: argv, env and the built-in defaults in; settings or InputError out. A flag beats its
 * environment variable.
 */
import path from 'node:path';
import { flagIsTrue, parseFlags, parseList, parsePositiveInt, usageText, type FlagTable } from '../shared/flags.js';
import { parseOnError, type OnErrorPolicy } from '../protocol/policy.js';
import { InputError } from '../core/errors.js';
import { isDnsLabel, isDnsSubdomain } from '../core/names.js';
import type { HookContext } from '../core/hooks/types.js';
import { REGISTRY, type HookEntry } from '../core/hooks/registry.js';
import { NOT_CONFIGURED, parseReportTarget, REPORT_FLAGS, type ReportSetting } from './report-settings.js';
import { allowList, parseDelivery, SITE_PREFIX, SITE_UPSTREAM, SiteHookInvalid, type AllowList, type CompiledSiteHook, type Facts } from '../core/site-hooks/index.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ServerSettings {
  /** Where the server listens (absolute). */
  socket: string;
  /** Root of sysfs (`<root>/devices/system/...`); a test points it at a fake tree. */
  sysfs: string;
  /** Hooks to run; undefined = the registry's default set. */
  hooks?: string[];
  /** Directory the client binary is copied into (the pod's `bin/`); undefined = no install. */
  installClient?: string;
  /**
   * Install the client and write client.conf, then exit without listening: the classic-sidecar
   * init container, so the client is in qemu.d/ before compute's virtqemud starts (docs/webhook.md).
   */
  installOnly?: true;
  /** The client binary to install. */
  clientBinary: string;
  /** Where the client's config file is written. */
  clientConf: string;
  /** Socket path as the client sees it (compute may mount the directory elsewhere). */
  clientSocket: string;
  onError: OnErrorPolicy;
  /** The client's overall deadline, and the server's per-request timeout. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** disk-namespace overrides: each replaces what the hook reads from the domain (rarely needed). */
  sourceNamespace?: string;
  targetNamespace?: string;
  /** This pod's namespace and VMI (the webhook passes both); disk-namespace cross-checks the domain name with them. */
  podNamespace?: string;
  vmiName?: string;
  logLevel: LogLevel;
  /** Where to report each run, or why not; absent when no report flag is given. */
  report?: ReportSetting;
  /** node:http backstop timeouts on the socket (headers, whole request, idle keep-alive). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** On stop: how long in-flight responses may take before their connections are cut. */
  drainTimeoutMs: number;
  /** Drain and exit 0 after libvirt's `release end` (classic mode: the sidecar leaves with its VM). */
  exitOnRelease?: true;
  /** Site hooks delivered by the webhook (--site-hooks-json), validated, in run order; absent for none. */
  siteHooks?: CompiledSiteHook[];
  /** Facts known at start (node.name, pod.name, pod.namespace, vmi.name) for `${…}` in site hooks. */
  siteHookFacts?: Facts;
  siteHookAllow?: AllowList;
}

export interface SettingsDefaults {
  /** The client binary shipped with this package. */
  clientBinary: string;
}

const FLAGS: FlagTable = {
  socket: { env: 'SOCKET', help: 'unix socket to listen on (required)' },
  sysfs: { env: 'SYSFS', help: 'sysfs root for the node topology (default /sys)' },
  hooks: { env: 'HOOKS', help: 'comma-separated hooks to run (default: all default-enabled hooks)' },
  'install-client': { env: 'INSTALL_CLIENT', help: 'copy the hook client into this directory, mode 0755' },
  'install-only': { env: 'INSTALL_ONLY', help: 'install the client and write client.conf, then exit 0 without listening', boolean: true },
  'client-binary': { env: 'CLIENT_BINARY', help: 'the hook client binary to install (default: the one in this package)' },
  'client-conf': { env: 'CLIENT_CONF', help: 'where to write the client config (default <socket dir>/client.conf)' },
  'client-socket': { env: 'CLIENT_SOCKET', help: 'socket path written into the client config (default --socket)' },
  'on-error': { env: 'ON_ERROR', help: 'pass|abort: what the client does when no answer comes (default pass)' },
  'timeout-ms': { env: 'TIMEOUT_MS', help: `client deadline and per-request timeout (default ${DEFAULT_TIMEOUT_MS})` },
  'max-body-bytes': { env: 'MAX_BODY_BYTES', help: `largest domain XML accepted, else 413 (default ${DEFAULT_MAX_BODY_BYTES})` },
  'pod-namespace': { env: 'POD_NAMESPACE', help: 'namespace of this target pod (the webhook passes it); disk-namespace cross-checks the domain name with it; fact ${pod.namespace}' },
  'vmi-name': { env: 'VMI_NAME', help: 'name of the VMI this target pod runs (the webhook passes it); cross-checked likewise; fact ${vmi.name}' },
  'source-namespace': { env: 'SOURCE_NAMESPACE', help: 'disk-namespace override: the namespace the VM comes from (default: read from its paths)' },
  'target-namespace': { env: 'TARGET_NAMESPACE', help: 'disk-namespace override: the namespace it lands in (default: read from the domain name)' },
  'log-level': { env: 'LOG_LEVEL', help: `${LOG_LEVELS.join('|')} (default info)` },
  ...REPORT_FLAGS,
  'headers-timeout-ms': { env: 'HEADERS_TIMEOUT_MS', help: 'close a connection whose request headers are not complete by then (default --timeout-ms)' },
  'request-timeout-ms': { env: 'REQUEST_TIMEOUT_MS', help: 'close a connection whose request is not complete by then (default 2 × --timeout-ms)' },
  'keep-alive-timeout-ms': { env: 'KEEP_ALIVE_TIMEOUT_MS', help: 'close an idle keep-alive connection after this (default 1000)' },
  'drain-timeout-ms': { env: 'DRAIN_TIMEOUT_MS', help: 'on SIGTERM, cut responses still running after this (default --timeout-ms + 1000)' },
  'exit-on-release': { env: 'EXIT_ON_RELEASE', help: 'after POST /v1/release-end (the domain left this pod), drain and exit 0', boolean: true },
  'site-hooks-json': { env: 'SITE_HOOKS', help: 'site hooks to run after the built-ins, as the webhook delivers them (docs/site-hooks.md)' },
  'site-hook-allow': { env: 'SITE_HOOK_ALLOW', help: 'comma-separated paths added to the site-hook allow-list (a risk: docs/site-hooks.md)' },
  'node-name': { env: 'NODE_NAME', help: 'fact ${node.name} for site hooks (downward API spec.nodeName)' },
  'pod-name': { env: 'POD_NAME', help: 'fact ${pod.name} for site hooks (downward API metadata.name)' },
};

/** A name-only registry entry, to check --hooks against the delivered site hooks. */
function siteEntryName(h: CompiledSiteHook): HookEntry {
  return { name: `${SITE_PREFIX}${h.name}`, description: '', source: 'site', defaultEnabled: true, upstream: SITE_UPSTREAM, appliesTo: () => true };
}

const FACT_FLAGS = { 'node.name': 'node-name', 'pod.name': 'pod-name', 'pod.namespace': 'pod-namespace', 'vmi.name': 'vmi-name' } as const;

/** The delivered site hooks, checked against this server's allow-list, with every fact they use present. */
function siteHookSettings(f: ReadonlyMap<string, string>): Pick<ServerSettings, 'siteHooks' | 'siteHookFacts' | 'siteHookAllow'> {
  let allow: AllowList;
  try {
    allow = allowList(parseList(f.get('site-hook-allow')) ?? []);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  let siteHooks: CompiledSiteHook[];
  try {
    siteHooks = parseDelivery(f.get('site-hooks-json'), allow);
  } catch (err) {
    throw new InputError(`--site-hooks-json: ${err instanceof SiteHookInvalid ? err.message : (err as Error).message}`);
  }
  const facts: Facts = {};
  for (const [fact, flag] of Object.entries(FACT_FLAGS) as Array<[keyof typeof FACT_FLAGS, string]>) {
    const v = f.get(flag);
    if (v !== undefined) facts[fact] = v;
  }
  for (const h of siteHooks) {
    for (const fact of h.facts) {
      if (fact in FACT_FLAGS && facts[fact] === undefined) {
        const flag = FACT_FLAGS[fact as keyof typeof FACT_FLAGS];
        throw new InputError(`site hook ${h.name} uses \${${fact}}, but --${flag} (PREMIGRATION_HOOKS_${flag.toUpperCase().replace(/-/g, '_')}) is not set`);
      }
    }
  }
  return siteHooks.length === 0 ? {} : { siteHooks, siteHookFacts: facts, siteHookAllow: allow };
}

export function usage(): string {
  return usageText('serve', '--socket <path> [flags]', FLAGS);
}

/** --help asked for (argv only; the environment cannot ask for help). */
export function wantsHelp(argv: readonly string[]): boolean {
  return parseFlags(FLAGS, argv).help;
}

/** The client config is line-based: a path with a newline or `#` would corrupt it. */
function confSafePath(name: string, value: string): string {
  if (/[\n\r#]/.test(value)) throw new InputError(`--${name} must not contain a newline or "#": "${value}"`);
  return value;
}


function namespace(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!isDnsLabel(v)) throw new InputError(`--${name} is not a valid namespace name: "${v}"`);
  return v;
}

export function parseServerSettings(
  argv: string[],
  env: Record<string, string | undefined>,
  defaults: SettingsDefaults,
  cwd: string = process.cwd(),
): ServerSettings {
  const f = parseFlags(FLAGS, argv, env).values;
  const abs = (p: string): string => path.resolve(cwd, p);

  const socketRaw = f.get('socket');
  if (!socketRaw) throw new InputError('--socket is required');
  const socket = confSafePath('socket', abs(socketRaw));
  // sockaddr_un.sun_path is 108 bytes including the NUL; a longer path fails at bind with a vague error.
  if (Buffer.byteLength(socket) > 107) throw new InputError(`--socket path is longer than 107 bytes: "${socket}"`);

  const hooks = parseList(f.get('hooks'));
  const sites = siteHookSettings(f);
  try {
    // site:<name> entries name delivered site hooks (the webhook lists them in coexist mode).
    REGISTRY.with((sites.siteHooks ?? []).map(siteEntryName)).resolve(hooks);
  } catch (err) {
    throw new InputError(`--hooks: ${(err as Error).message}`);
  }

  const logLevel = f.get('log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new InputError(`--log-level must be one of ${LOG_LEVELS.join('|')}, got "${logLevel}"`);
  }

  const sourceNamespace = namespace('source-namespace', f.get('source-namespace'));
  const targetNamespace = namespace('target-namespace', f.get('target-namespace'));
  const podNamespace = namespace('pod-namespace', f.get('pod-namespace'));
  const vmiName = f.get('vmi-name');
  if (vmiName !== undefined && !isDnsSubdomain(vmiName)) throw new InputError(`--vmi-name is not a valid VMI name: "${vmiName}"`);

  const clientSocket = confSafePath('client-socket', f.get('client-socket') ?? socket);
  // The client runs in libvirt's working directory, so a relative path would mean nothing there.
  if (!path.isAbsolute(clientSocket)) throw new InputError(`--client-socket must be absolute, got "${clientSocket}"`);

  const installClient = f.get('install-client');
  const installOnly = flagIsTrue(f, 'install-only');
  // Without a directory to install into, an install-only run would do nothing useful: say so now.
  if (installOnly && !installClient) throw new InputError('--install-only needs --install-client');
  return {
    socket,
    sysfs: abs(f.get('sysfs') ?? '/sys'),
    ...(hooks ? { hooks } : {}),
    ...(installClient ? { installClient: abs(installClient) } : {}),
    ...(installOnly ? { installOnly: true as const } : {}),
    clientBinary: abs(f.get('client-binary') ?? defaults.clientBinary),
    clientConf: abs(f.get('client-conf') ?? path.join(path.dirname(socket), 'client.conf')),
    clientSocket,
    onError: parseOnError(f.get('on-error')),
    timeoutMs: parsePositiveInt('--timeout-ms', f.get('timeout-ms'), DEFAULT_TIMEOUT_MS),
    maxBodyBytes: parsePositiveInt('--max-body-bytes', f.get('max-body-bytes'), DEFAULT_MAX_BODY_BYTES),
    ...(sourceNamespace !== undefined ? { sourceNamespace } : {}),
    ...(targetNamespace !== undefined ? { targetNamespace } : {}),
    ...(podNamespace !== undefined ? { podNamespace } : {}),
    ...(vmiName !== undefined ? { vmiName } : {}),
    logLevel: logLevel as LogLevel,
    ...reportSetting(f),
    ...connectionTimeouts(f),
    ...(flagIsTrue(f, 'exit-on-release') ? { exitOnRelease: true as const } : {}),
    ...sites,
  };
}

function connectionTimeouts(f: ReadonlyMap<string, string>): Pick<ServerSettings, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'drainTimeoutMs'> {
  const timeoutMs = parsePositiveInt('--timeout-ms', f.get('timeout-ms'), DEFAULT_TIMEOUT_MS);
  return {
    headersTimeoutMs: parsePositiveInt('--headers-timeout-ms', f.get('headers-timeout-ms'), timeoutMs),
    requestTimeoutMs: parsePositiveInt('--request-timeout-ms', f.get('request-timeout-ms'), 2 * timeoutMs),
    keepAliveTimeoutMs: parsePositiveInt('--keep-alive-timeout-ms', f.get('keep-alive-timeout-ms'), 1000),
    drainTimeoutMs: parsePositiveInt('--drain-timeout-ms', f.get('drain-timeout-ms'), timeoutMs + 1000),
  };
}

/** What the settings add to every request's HookContext (disk-namespace's facts and overrides). */
export type IdentityFacts = Pick<HookContext, 'sourceNamespace' | 'targetNamespace' | 'podNamespace' | 'vmiName'>;

export function identityFacts(s: ServerSettings): IdentityFacts {
  return {
    ...(s.sourceNamespace !== undefined ? { sourceNamespace: s.sourceNamespace } : {}),
    ...(s.targetNamespace !== undefined ? { targetNamespace: s.targetNamespace } : {}),
    ...(s.podNamespace !== undefined ? { podNamespace: s.podNamespace } : {}),
    ...(s.vmiName !== undefined ? { vmiName: s.vmiName } : {}),
  };
}

function reportSetting(f: ReadonlyMap<string, string>): { report?: ReportSetting } {
  const report = parseReportTarget((name) => f.get(name));
  return 'disabled' in report && report.disabled === NOT_CONFIGURED ? {} : { report };
}
