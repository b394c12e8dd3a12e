/**
 * `premigration-hooks webhook` flags and PREMIGRATION_HOOKS_* environment → validated settings.
 * Pure: argv and env in, settings or InputError out. A flag beats its environment variable.
 */
import { flagIsTrue, oneOf, parseFlags, parseList, parseNonNegativeInt, parsePositiveInt, usageText, type FlagTable } from '../../shared/flags.js';
import { parseOnError } from '../../protocol/policy.js';
import { InputError } from '../../core/errors.js';
import { isDnsLabel } from '../../core/names.js';
import type { GateSource, InjectPolicy, InjectSettings, LogLevel, SidecarPolicy } from '../admission/types.js';
import { DEFAULT_HOOKS, REGISTRY } from '../../core/hooks/registry.js';
import { isWholeMilli, parseQuantity } from '../../core/pod/quantity.js';
import { allowList } from '../../core/site-hooks/index.js';

export interface WebhookSettings {
  tlsCertDir?: string;
  devSelfSigned: boolean;
  port: number;
  metricsPort: number;
  bindAddress: string;
  gateSource: GateSource;
  kubevirtNamespace: string;
  kubeconfig?: string;
  /** Watch target pods and count those that escaped injection (escaped_target_pods_total). */
  watchTargetPods: boolean;
  /** Watch ResourceQuotas and LimitRanges, and skip a pod our containers would get refused (check), or not (ignore). */
  namespaceLimits: 'check' | 'ignore';
  maxBodyBytes: number;
  certPollMs: number;
  shutdownDelayMs: number;
  logLevel: LogLevel;
  inject: InjectSettings;
  /** /validate: warn = allow with admission warnings; deny = reject a pod whose injection was broken. */
  validatePolicy: 'warn' | 'deny';
  /** Hook reports: enabled when both the URL and the key file are set. */
  reportUrl?: string;
  reportKeyFile?: string;
  /** The CA bundle injected into pods for the report URL (default: <tls-cert-dir>/ca.crt; dev: the self-signed cert). */
  caBundleFile?: string;
  reportTokenTtlSeconds: number;
  /** HTTPS port of /report (target pods reach it; the admission port only the apiserver). */
  reportPort: number;
  /** Bound on concurrent admissions (/mutate + /validate) and on those waiting for a slot. */
  admission: { maxConcurrent: number; queue: number; queueWaitMs: number; maxInflightBytes: number };
  /** Connection bounds of every listener (src/webhook/http/connection.ts). */
  connections: { handshakeTimeoutMs: number; headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number; maxConnections: number };
  /** --site-hook-allow: paths added to the SiteHook allow-list, here and in the injected servers (docs/site-hooks.md). */
  siteHookAllow?: string[];
}

/**
 * The apiserver refuses JSON request bodies above 3 MiB (MaxRequestBodyBytes), and an
 * AdmissionReview for CREATE carries the object once; 256 KiB more covers the envelope
 * (request metadata, userInfo) and what defaulting and earlier webhooks add. docs/webhook.md.
 */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024 + 256 * 1024;

const FLAGS: FlagTable = {
  'site-hook-allow': { env: 'SITE_HOOK_ALLOW', help: 'comma-separated paths added to the SiteHook allow-list (a risk: docs/site-hooks.md)' },
  'tls-cert-dir': { env: 'TLS_CERT_DIR', help: 'directory with tls.crt and tls.key (a mounted Secret; reloaded on change)' },
  'dev-self-signed': { env: 'DEV_SELF_SIGNED', boolean: true, help: 'generate a self-signed certificate at start (development only)' },
  port: { env: 'PORT', help: 'HTTPS port for /mutate, /validate, /healthz, /readyz (default 8443)' },
  'metrics-port': { env: 'METRICS_PORT', help: 'plain HTTP port for /metrics (default 8080)' },
  'bind-address': { env: 'BIND_ADDRESS', help: 'address to listen on (default ::, IPv6 and IPv4; 0.0.0.0 where the kernel has no IPv6)' },
  image: { env: 'IMAGE', help: 'image reference of this product, run as the injected sidecar (required)' },
  'image-pull-policy': { env: 'IMAGE_PULL_POLICY', help: 'Always|IfNotPresent|Never (default IfNotPresent)' },
  'image-command': { env: 'IMAGE_COMMAND', help: 'the CLI inside the image (default premigration-hooks)' },
  'gate-source': { env: 'GATE_SOURCE', help: 'kubevirt|always|never (default kubevirt: follow the KubeVirt CR)' },
  'kubevirt-namespace': { env: 'KUBEVIRT_NAMESPACE', help: 'namespace of the KubeVirt CR (default kubevirt)' },
  kubeconfig: { env: 'KUBECONFIG', help: 'kubeconfig path (default: in-cluster)' },
  'watch-target-pods': { env: 'WATCH_TARGET_PODS', boolean: true, help: 'count target pods that escaped injection' },
  'sidecar-mode': { env: 'SIDECAR_MODE', help: 'auto (native where the apiserver and every kubelet are ≥1.29, else classic) | native | classic (default auto)' },
  'inject-policy': { env: 'INJECT_POLICY', help: 'needed (only pods an enabled hook applies to) | always (every target pod) (default needed)' },
  hooks: { env: 'HOOKS', help: `hooks the in-pod server runs (default ${DEFAULT_HOOKS.join(',')})` },
  'coexist-cpu-dedicated': { env: 'COEXIST_CPU_DEDICATED', boolean: true, help: 'in coexist mode, run our cpu-dedicated after upstream\'s on dedicated-CPU targets (default true; false trusts upstream\'s placement)' },
  'namespace-limits': { env: 'NAMESPACE_LIMITS', help: 'check|ignore: skip pods the namespace\'s ResourceQuotas or LimitRanges would refuse with our containers (default check)' },
  'on-error': { env: 'ON_ERROR', help: 'pass|abort: what the hook client does when the server fails (default pass)' },
  'client-timeout-ms': { env: 'CLIENT_TIMEOUT_MS', help: 'hook client deadline (default 2000)' },
  'sidecar-cpu': { env: 'SIDECAR_CPU', help: 'cpu request=limit in Guaranteed pods (default 100m)' },
  'sidecar-memory': { env: 'SIDECAR_MEMORY', help: 'memory request=limit in Guaranteed pods (default 96Mi)' },
  'sidecar-cpu-request': { env: 'SIDECAR_CPU_REQUEST', help: 'cpu request in Burstable pods (default 10m)' },
  'sidecar-memory-request': { env: 'SIDECAR_MEMORY_REQUEST', help: 'memory request in Burstable pods (default 64Mi)' },
  'max-body-bytes': { env: 'MAX_BODY_BYTES', help: `largest AdmissionReview accepted, else 413 (default ${DEFAULT_MAX_BODY_BYTES})` },
  'report-port': { env: 'REPORT_PORT', help: 'HTTPS port for /report from target pods (default 8444)' },
  'max-concurrent-admissions': { env: 'MAX_CONCURRENT_ADMISSIONS', help: 'admissions decoded and decided at once (default 4)' },
  'admission-queue': { env: 'ADMISSION_QUEUE', help: 'admissions waiting for a slot; more get 503 (default 16)' },
  'max-inflight-bytes': { env: 'MAX_INFLIGHT_BYTES', help: 'declared body bytes of admissions decoded at once (default: --max-body-bytes)' },
  'admission-queue-wait-ms': { env: 'ADMISSION_QUEUE_WAIT_MS', help: 'longest wait for a slot, then 503 (default 2000)' },
  'handshake-timeout-ms': { env: 'HANDSHAKE_TIMEOUT_MS', help: 'TLS handshake deadline per connection (default 5000)' },
  'header-timeout-ms': { env: 'HEADER_TIMEOUT_MS', help: 'deadline for a request\'s headers (default 5000)' },
  'request-timeout-ms': { env: 'REQUEST_TIMEOUT_MS', help: 'deadline for a whole request, body included (default 10000)' },
  'keep-alive-timeout-ms': { env: 'KEEP_ALIVE_TIMEOUT_MS', help: 'idle keep-alive connections are closed after this (default 30000)' },
  'max-connections': { env: 'MAX_CONNECTIONS', help: 'concurrent connections per listener; more are dropped (default 512)' },
  'cert-poll-ms': { env: 'CERT_POLL_MS', help: 'fallback check of the cert directory (default 10000)' },
  'shutdown-delay-ms': { env: 'SHUTDOWN_DELAY_MS', help: 'on SIGTERM, report unready this long before closing (default 5000)' },
  'log-level': { env: 'LOG_LEVEL', help: 'fatal|error|warn|info|debug|trace|silent (default info)' },
  'validate-policy': { env: 'VALIDATE_POLICY', help: 'warn|deny: what /validate does with a pod whose injection was broken (default warn)' },
  'report-url': { env: 'REPORT_URL', help: 'https URL of this webhook\'s /report, as target pods reach it (enables hook reports)' },
  'report-key-file': { env: 'REPORT_KEY_FILE', help: 'HMAC key for report tokens, ≥32 bytes (a Secret only the webhook reads)' },
  'ca-bundle-file': { env: 'CA_BUNDLE_FILE', help: 'CA bundle given to target pods to verify the report URL (default <tls-cert-dir>/ca.crt)' },
  'report-token-ttl': { env: 'REPORT_TOKEN_TTL', help: 'lifetime of a report token in seconds (default 86400)' },
};

export function usage(): string {
  return usageText('webhook', '(--tls-cert-dir <dir> | --dev-self-signed) --image <ref> [flags]', FLAGS);
}

/** --help asked for (argv only; the environment cannot ask for help). */
export function wantsHelp(argv: readonly string[]): boolean {
  return parseFlags(FLAGS, argv).help;
}

const bool = (f: ReadonlyMap<string, string>, name: string): boolean => flagIsTrue(f, name);

function port(name: string, v: string | undefined, fallback: number): number {
  const p = parsePositiveInt(`--${name}`, v, fallback);
  if (p > 65535) throw new InputError(`--${name} must be ≤ 65535, got ${p}`);
  return p;
}

function quantity(name: string, v: string | undefined, fallback: string, wholeMilli: boolean): string {
  const q = v ?? fallback;
  const n = parseQuantity(q);
  if (n === undefined || n <= 0n) throw new InputError(`--${name} must be a positive resource quantity, got "${q}"`);
  if (wholeMilli && !isWholeMilli(q)) throw new InputError(`--${name} must be a whole number of millicores, got "${q}"`);
  return q;
}

export function parseWebhookSettings(argv: string[], env: Record<string, string | undefined> = {}): WebhookSettings {
  const f = parseFlags(FLAGS, argv, env).values;
  const devSelfSigned = bool(f, 'dev-self-signed');
  const tlsCertDir = f.get('tls-cert-dir');
  if (!devSelfSigned && !tlsCertDir) throw new InputError('one of --tls-cert-dir or --dev-self-signed is required');
  if (devSelfSigned && tlsCertDir) throw new InputError('--tls-cert-dir and --dev-self-signed are mutually exclusive');
  const image = f.get('image');
  if (!image) throw new InputError('--image is required (the image injected as the hook server sidecar)');
  if (/\s/.test(image)) throw new InputError(`--image must not contain whitespace, got "${image}"`);
  // An unknown name must stop the webhook here: injected, it would make every sidecar exit at start.
  const hooks = parseList(f.get('hooks')) ?? [...DEFAULT_HOOKS];
  try {
    REGISTRY.resolve(hooks);
  } catch (err) {
    throw new InputError(`--hooks: ${(err as Error).message}`);
  }
  const logLevel = oneOf<LogLevel>('log-level', f.get('log-level'), ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info');
  const port_ = port('port', f.get('port'), 8443);
  const metricsPort = port('metrics-port', f.get('metrics-port'), 8080);
  const reportPort = port('report-port', f.get('report-port'), 8444);
  const maxBodyBytes = parsePositiveInt('--max-body-bytes', f.get('max-body-bytes'), DEFAULT_MAX_BODY_BYTES);
  if (new Set([port_, metricsPort, reportPort]).size !== 3) throw new InputError('--port, --metrics-port and --report-port must differ');
  const kubevirtNamespace = f.get('kubevirt-namespace') ?? 'kubevirt';
  if (!isDnsLabel(kubevirtNamespace)) {
    throw new InputError(`--kubevirt-namespace is not a valid namespace name: "${kubevirtNamespace}"`);
  }
  return {
    ...(tlsCertDir ? { tlsCertDir } : {}),
    devSelfSigned,
    port: port_,
    metricsPort,
    bindAddress: f.get('bind-address') ?? '::',
    gateSource: oneOf<GateSource>('gate-source', f.get('gate-source'), ['kubevirt', 'always', 'never'], 'kubevirt'),
    kubevirtNamespace,
    ...(f.get('kubeconfig') ? { kubeconfig: f.get('kubeconfig') } : {}),
    watchTargetPods: bool(f, 'watch-target-pods'),
    namespaceLimits: oneOf('namespace-limits', f.get('namespace-limits'), ['check', 'ignore'] as const, 'check'),
    maxBodyBytes,
    reportPort,
    admission: {
      maxConcurrent: parsePositiveInt('--max-concurrent-admissions', f.get('max-concurrent-admissions'), 4),
      queue: parseNonNegativeInt('--admission-queue', f.get('admission-queue'), 16),
      queueWaitMs: parsePositiveInt('--admission-queue-wait-ms', f.get('admission-queue-wait-ms'), 2000),
      maxInflightBytes: parsePositiveInt('--max-inflight-bytes', f.get('max-inflight-bytes'), maxBodyBytes),
    },
    connections: connectionFlags(f),
    certPollMs: parsePositiveInt('--cert-poll-ms', f.get('cert-poll-ms'), 10_000),
    shutdownDelayMs: parseNonNegativeInt('--shutdown-delay-ms', f.get('shutdown-delay-ms'), 5_000),
    logLevel,
    inject: {
      image,
      imagePullPolicy: oneOf('image-pull-policy', f.get('image-pull-policy'), ['Always', 'IfNotPresent', 'Never'] as const, 'IfNotPresent'),
      imageCommand: f.get('image-command') ?? 'premigration-hooks',
      sidecarMode: oneOf<SidecarPolicy>('sidecar-mode', f.get('sidecar-mode'), ['auto', 'native', 'classic'], 'auto'),
      injectPolicy: oneOf<InjectPolicy>('inject-policy', f.get('inject-policy'), ['needed', 'always'], 'needed'),
      hooks,
      // Default on: upstream's cpu-dedicated mis-pins on adjacent-sibling hosts (src/core/hooks/registry.ts).
      trustUpstream: f.get('coexist-cpu-dedicated') === 'false' ? ['cpu-dedicated'] : [],
      onError: parseOnError(f.get('on-error')),
      clientTimeoutMs: parsePositiveInt('--client-timeout-ms', f.get('client-timeout-ms'), 2000),
      logLevel,
      guaranteed: {
        cpu: quantity('sidecar-cpu', f.get('sidecar-cpu'), '100m', true),
        memory: quantity('sidecar-memory', f.get('sidecar-memory'), '96Mi', false),
      },
      burstable: {
        cpu: quantity('sidecar-cpu-request', f.get('sidecar-cpu-request'), '10m', false),
        memory: quantity('sidecar-memory-request', f.get('sidecar-memory-request'), '64Mi', false),
      },
    },
    validatePolicy: oneOf('validate-policy', f.get('validate-policy'), ['warn', 'deny'] as const, 'warn'),
    ...reportFlags(f),
    ...siteHookAllowFlag(f),
  };
}

function siteHookAllowFlag(f: ReadonlyMap<string, string>): Pick<WebhookSettings, 'siteHookAllow'> {
  const extra = parseList(f.get('site-hook-allow'));
  if (extra === undefined) return {};
  try {
    allowList(extra);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  return { siteHookAllow: extra };
}

function reportFlags(f: ReadonlyMap<string, string>): Pick<WebhookSettings, 'reportUrl' | 'reportKeyFile' | 'caBundleFile' | 'reportTokenTtlSeconds'> {
  const reportUrl = f.get('report-url');
  if (reportUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(reportUrl);
    } catch {
      throw new InputError(`--report-url is not a URL: "${reportUrl}"`);
    }
    if (url.protocol !== 'https:') throw new InputError(`--report-url must be https, got "${reportUrl}"`);
  }
  const reportKeyFile = f.get('report-key-file');
  const caBundleFile = f.get('ca-bundle-file');
  return {
    ...(reportUrl !== undefined ? { reportUrl } : {}),
    ...(reportKeyFile !== undefined ? { reportKeyFile } : {}),
    ...(caBundleFile !== undefined ? { caBundleFile } : {}),
    reportTokenTtlSeconds: parsePositiveInt('--report-token-ttl', f.get('report-token-ttl'), 86_400),
  };
}

function connectionFlags(f: ReadonlyMap<string, string>): WebhookSettings['connections'] {
  const c = {
    handshakeTimeoutMs: parsePositiveInt('--handshake-timeout-ms', f.get('handshake-timeout-ms'), 5_000),
    headersTimeoutMs: parsePositiveInt('--header-timeout-ms', f.get('header-timeout-ms'), 5_000),
    requestTimeoutMs: parsePositiveInt('--request-timeout-ms', f.get('request-timeout-ms'), 10_000),
    keepAliveTimeoutMs: parsePositiveInt('--keep-alive-timeout-ms', f.get('keep-alive-timeout-ms'), 30_000),
    maxConnections: parsePositiveInt('--max-connections', f.get('max-connections'), 512),
  };
  // Node refuses a header deadline past the request deadline; say so in our words.
  if (c.headersTimeoutMs > c.requestTimeoutMs) throw new InputError('--header-timeout-ms must not exceed --request-timeout-ms');
  return c;
}
