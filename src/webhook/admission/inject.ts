/**
 * inject(pod, settings, context) → the JSON Patch that adds the hook server and client to one
 * migration-target launcher pod (docs/webhook.md, "The patch"). Pure and total: it never throws; a pod it
 * cannot patch safely gives a skip or an error verdict, and the caller then allows it unchanged.
 *
 * The patch is built against the raw JSON (never a typed round-trip, which would drop fields such
 * as a native sidecar's restartPolicy), only adds, creates missing maps/arrays first, and is
 * applied locally and checked (verify-patch.ts) before it is returned.
 */
import type { Operation } from 'fast-json-patch';
import { VERSION } from '../../shared/version.js';
import {
  BASE_NAME, BIN_SUBPATH, CLIENT_CONF_PATH, COMPUTE_CONTAINER, HOOKS_DIR, INJECTED_ANNOTATION, RUN_DIR,
  RUN_SUBPATH, SOCKET_PATH, type InjectedMarker,
} from './names.js';
import { sidecarDigest } from './marker.js';
import { qosClass, type QosClass } from '../../core/pod/qos.js';
import { CLIENT_BINARY_IN_IMAGE } from '../../shared/client-binary.js';
import { fitLimitRanges, podLimitRangeVerdict, quotaVerdict, type Resources } from './limits.js';
import type { InjectSettings, SidecarMode } from './types.js';
import { applyPatchChecked, verifyPatch } from './verify-patch.js';
import { asObject, isObject, type JsonObject as Json } from '../../shared/json.js';
import { isDnsLabel } from '../../core/names.js';
import { VMI_NAME_KEY } from './report-env.js';

/** The target namespace's ResourceQuotas (with status.used) and LimitRanges, as JSON. */
export interface NamespaceLimits {
  quotas: readonly unknown[];
  limitRanges: readonly unknown[];
}

export interface InjectContext {
  mode: 'inject' | 'coexist';
  /** Hooks the injected server runs (already filtered for the mode and the pod; never empty). */
  hooks: string[];
  /** The shape chosen for this pod (src/webhook/admission/sidecar.ts); default: classic. */
  sidecar?: SidecarMode;
  /** Where and how the in-pod server reports each run; absent: it does not report. */
  report?: ReportEnv;
  /** Absent: not known (namespace checks off or not synced); the patch is then not checked against them. */
  namespace?: NamespaceLimits;
  /** Selected site hooks: env for our containers and the digest for the marker (site-hooks.ts). */
  siteHooks?: { env: Json[]; digest: string };
}

/** Passed to our container as environment (src/server/report-settings.ts reads it). */
export interface ReportEnv {
  url: string;
  /** PEM bundle the server trusts for the webhook's certificate. */
  caBundle: string;
  /** Minted per pod (src/webhook/admission/token.ts). */
  token: string;
  kubevirtVersion?: string;
}

export const REPORT_ENV = {
  url: 'PREMIGRATION_HOOKS_REPORT_URL',
  caBundle: 'PREMIGRATION_HOOKS_REPORT_CA',
  token: 'PREMIGRATION_HOOKS_REPORT_TOKEN',
  kubevirtVersion: 'PREMIGRATION_HOOKS_KUBEVIRT_VERSION',
} as const;

/** Passed to the server container so disk-namespace can cross-check the domain's identity (src/server/* reads them). */
export const IDENTITY_ENV = {
  podNamespace: 'PREMIGRATION_HOOKS_POD_NAMESPACE',
  vmiName: 'PREMIGRATION_HOOKS_VMI_NAME',
} as const;

/** An RFC 1123 subdomain (a VMI name), from the one DNS-label rule. */
const isDnsSubdomain = (v: string): boolean => v.length > 0 && v.length <= 253 && v.split('.').every(isDnsLabel);

/**
 * The pod's namespace through the downward API (authoritative at run time), and the VMI name
 * KubeVirt puts on the pod (kubevirt.io/domain), when it is a valid name: the server refuses an
 * invalid one at start, and a sidecar that does not start would stall the migration.
 */
function identityEnv(pod: Json): Json[] {
  const metadata = asObject(pod.metadata);
  const fromAnnotation = asObject(metadata.annotations)[VMI_NAME_KEY];
  const fromLabel = asObject(metadata.labels)[VMI_NAME_KEY];
  const vmi = typeof fromAnnotation === 'string' && fromAnnotation !== '' ? fromAnnotation : typeof fromLabel === 'string' ? fromLabel : '';
  return [
    { name: IDENTITY_ENV.podNamespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ...(isDnsSubdomain(vmi) ? [{ name: IDENTITY_ENV.vmiName, value: vmi }] : []),
  ];
}

function reportEnv(r: ReportEnv | undefined): Json[] {
  if (!r) return [];
  return [
    { name: REPORT_ENV.url, value: r.url },
    { name: REPORT_ENV.caBundle, value: r.caBundle },
    { name: REPORT_ENV.token, value: r.token },
    ...(r.kubevirtVersion ? [{ name: REPORT_ENV.kubevirtVersion, value: r.kubevirtVersion }] : []),
  ];
}

export type InjectResult =
  | { kind: 'patch'; patch: Operation[]; qos: QosClass; volume: string; containers: string[]; sidecar: SidecarMode }
  | { kind: 'skip'; reason: 'no-compute' | 'mount-conflict' }
  | { kind: 'skip'; reason: 'quota-exceeded' | 'limitrange-violation'; message: string }
  | { kind: 'error'; reason: 'patch-invalid' | 'internal'; message: string };


const asArray = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** RFC 6901: `~` → `~0`, then `/` → `~1`. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** `base`, else `base-1`, `base-2`, … : the first name not in `taken` (deterministic). */
export function freeName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

const SECURITY_CONTEXT = {
  runAsUser: 107,
  runAsGroup: 107,
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Requests == limits keeps a Guaranteed pod Guaranteed; adding any request to BestEffort would change it. */
export function resourcesFor(qos: QosClass, s: InjectSettings): Resources | undefined {
  if (qos === 'Guaranteed') {
    const q = { cpu: s.guaranteed.cpu, memory: s.guaranteed.memory };
    return { requests: { ...q }, limits: { ...q } };
  }
  if (qos === 'Burstable') return { requests: { cpu: s.burstable.cpu, memory: s.burstable.memory } };
  return undefined;
}

function serverArgs(s: InjectSettings, ctx: InjectContext): string[] {
  return [
    '--socket', SOCKET_PATH,
    '--install-client', HOOKS_DIR,
    '--client-conf', CLIENT_CONF_PATH,
    '--on-error', s.onError,
    '--timeout-ms', String(s.clientTimeoutMs),
    '--hooks', ctx.hooks.join(','),
  ];
}

/**
 * A regular container must end when its VM leaves the pod, or it keeps the old pod Running: on
 * libvirt's `release end` the server exits 0 (src/server/*, the server's --exit-on-release).
 */
export const EXIT_ON_RELEASE = '--exit-on-release';

function baseContainer(name: string, volume: string, s: InjectSettings, resources: Resources | undefined, extraEnv: Json[] = []): Json {
  return {
    name,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    command: [s.imageCommand],
    // The target's identity goes in as env (identityEnv, server container only): env a server
    // without those settings ignores, where an unknown flag would stop it. The source identity
    // is not known at admission (it may be another cluster); disk-namespace reads it from the domain.
    env: [{ name: 'PREMIGRATION_HOOKS_LOG_LEVEL', value: s.logLevel }, ...extraEnv],
    ...(resources ? { resources } : {}),
    securityContext: structuredClone(SECURITY_CONTEXT),
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [
      // Same paths as in compute, so the socket path written into client.conf is valid there too.
      { name: volume, mountPath: HOOKS_DIR, subPath: BIN_SUBPATH },
      { name: volume, mountPath: RUN_DIR, subPath: RUN_SUBPATH },
    ],
  };
}

/** Deadline of one probe run, passed to the client (ms); the kubelet's timeout is above it. */
export const PROBE_TIMEOUT_MS = 1000;

/**
 * The probe proves the server answers on its socket (GET /healthz over the unix socket must
 * answer 200), not merely that a file exists. It runs the static hook client in probe mode, so
 * no Node process is spawned per probe (a Node CLI costs 0.8–1.0 s of CPU under a 100m limit).
 */
export function probeCommand(): string[] {
  return [CLIENT_BINARY_IN_IMAGE, '--probe', '--socket', SOCKET_PATH, '--timeout-ms', String(PROBE_TIMEOUT_MS)];
}

/**
 * Native sidecar: compute starts only once this passes, so it gates compute (and with it the
 * migration). Every second; 30 failures = 30 s for the server to answer, well above what a lean
 * server needs under its CPU limit, after which the kubelet restarts the sidecar.
 */
function startupProbe(): Json {
  return { exec: { command: probeCommand() }, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 30 };
}

/**
 * Classic: a regular container starts together with compute, so it must not hold compute back
 * (no startup probe); KubeVirt's IsPodReady keeps the migration in Scheduling until every
 * non-compute container is Ready, which this probe decides. Three misses in a row before Not
 * Ready, so one slow answer does not flap a running VM's pod.
 */
function readinessProbe(): Json {
  return { exec: { command: probeCommand() }, periodSeconds: 2, timeoutSeconds: 2, successThreshold: 1, failureThreshold: 3 };
}

function containerNames(spec: Json): Set<string> {
  const names = new Set<string>();
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    for (const c of asArray(spec[key])) if (typeof c.name === 'string') names.add(c.name);
  }
  return names;
}

function build(pod: Json, s: InjectSettings, ctx: InjectContext, sidecar: SidecarMode): InjectResult {
  const metadata = isObject(pod.metadata) ? pod.metadata : undefined;
  const spec = isObject(pod.spec) ? pod.spec : undefined;
  const containers = spec ? asArray(spec.containers) : [];
  const computeIndex = containers.findIndex((c) => c.name === COMPUTE_CONTAINER);
  // KubeVirt always puts compute first; anything else is not a pod we understand.
  if (!spec || computeIndex !== 0) return { kind: 'skip', reason: 'no-compute' };
  const compute = containers[0] as Json;
  const computeMounts = asArray(compute.volumeMounts);
  if (computeMounts.some((m) => m.mountPath === HOOKS_DIR || m.mountPath === RUN_DIR)) {
    return { kind: 'skip', reason: 'mount-conflict' };
  }

  const qos = qosClass(spec);
  let resources = resourcesFor(qos, s);
  if (ctx.namespace) {
    // Defaults the namespace's LimitRanges would apply are set explicitly; a violation skips.
    const fit = fitLimitRanges(resources, ctx.namespace.limitRanges, spec);
    if (fit.kind === 'violation') return { kind: 'skip', reason: 'limitrange-violation', message: fit.message };
    resources = fit.resources;
  }
  const volumeNames = new Set(asArray(spec.volumes).map((v) => String(v.name)));
  const volume = freeName(BASE_NAME, volumeNames);
  const taken = containerNames(spec);
  const serverName = freeName(BASE_NAME, taken);
  // Classic mode's install init container: named after ours, and like it clear of every existing name.
  const installName = sidecar === 'classic' ? freeName(`${serverName}-install`, new Set([...taken, serverName])) : undefined;

  const ops: Operation[] = [];
  const ensure = (path: string, present: boolean, empty: Json | unknown[]): void => {
    if (!present) ops.push({ op: 'add', path, value: empty });
  };

  const serve = ['serve', ...serverArgs(s, ctx)];
  const siteEnv = ctx.siteHooks?.env ?? [];
  // Classic: the server is a regular container and must end with its VM; native sidecars end with the pod.
  const base = { ...baseContainer(serverName, volume, s, resources, [...identityEnv(pod), ...reportEnv(ctx.report), ...siteEnv]), args: sidecar === 'classic' ? [...serve, EXIT_ON_RELEASE] : serve };
  // Same image, mounts, security context and QoS rule as the server, and the same serve args, so
  // it writes exactly the client and client.conf the server writes again at its start. No report
  // env (an install-only run never reports) and no probes (an init container has none).
  const install = installName === undefined
    ? undefined
    // With site hooks the install-only run checks --hooks and the facts against them, so it gets them too.
    : { name: installName, container: { ...baseContainer(installName, volume, s, resources, siteEnv.length > 0 ? [...identityEnv(pod), ...siteEnv] : []), args: [...serve, '--install-only'] } };
  ensure('/metadata', metadata !== undefined, {});
  ensure('/metadata/annotations', isObject(metadata?.annotations), {});
  // qos/container/volume/digest (and install/installDigest) let /validate check the stored pod against what we added.
  const marker: InjectedMarker = {
    version: VERSION, mode: ctx.mode, hooks: ctx.hooks, sidecar, qos, container: serverName, volume, digest: sidecarDigest(base),
    ...(install ? { install: install.name, installDigest: sidecarDigest(install.container) } : {}),
    ...(ctx.siteHooks ? { siteHooks: ctx.siteHooks.digest } : {}),
  };
  ops.push({ op: 'add', path: `/metadata/annotations/${escapePointer(INJECTED_ANNOTATION)}`, value: JSON.stringify(marker) });

  ensure('/spec/volumes', Array.isArray(spec.volumes), []);
  // emptyDir in memory: holds the ~1 MiB client, the config and the socket; never touches the node disk.
  ops.push({ op: 'add', path: '/spec/volumes/-', value: { name: volume, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } } });

  const added = [serverName];
  if (sidecar === 'native') {
    ensure('/spec/initContainers', Array.isArray(spec.initContainers), []);
    // Native sidecar: started, and its startup probe passed, before compute starts, so the
    // qemu.d entry exists before virtqemud scans the hook directory.
    ops.push({ op: 'add', path: '/spec/initContainers/-', value: { ...base, restartPolicy: 'Always', startupProbe: startupProbe() } });
  } else if (install) {
    // Classic (Kubernetes without native sidecars): an init container installs the client and
    // writes client.conf and exits (`serve --install-only`), so qemu.d has an entry before compute
    // starts. virtqemud decides at start whether any qemu hook exists (on KubeVirt ≤1.4 nothing
    // else is there) and re-lists qemu.d on every call after that. Then a regular sidecar
    // container serves, started in parallel with compute; KubeVirt starts the migration only when
    // every non-compute container is Ready, i.e. once our readiness probe passed; the client asks
    // the server only at migrate or restore begin, which come later.
    ensure('/spec/initContainers', Array.isArray(spec.initContainers), []);
    ops.push({ op: 'add', path: '/spec/initContainers/-', value: install.container });
    ops.push({ op: 'add', path: '/spec/containers/-', value: { ...base, readinessProbe: readinessProbe() } });
    added.push(install.name);
  }

  ensure('/spec/containers/0/volumeMounts', Array.isArray(compute.volumeMounts), []);
  ops.push(
    { op: 'add', path: '/spec/containers/0/volumeMounts/-', value: { name: volume, mountPath: HOOKS_DIR, subPath: BIN_SUBPATH, readOnly: true } },
    // Read-only is enough: connecting to a unix socket does not need a writable mount.
    { op: 'add', path: '/spec/containers/0/volumeMounts/-', value: { name: volume, mountPath: RUN_DIR, subPath: RUN_SUBPATH, readOnly: true } },
  );
  return { kind: 'patch', patch: ops, qos, volume, containers: added, sidecar };
}

/** Never throws: internal faults become { kind: 'error' }. */
export function inject(pod: unknown, settings: InjectSettings, ctx: InjectContext): InjectResult {
  try {
    if (!isObject(pod)) return { kind: 'skip', reason: 'no-compute' };
    const sidecar = ctx.sidecar ?? (settings.sidecarMode === 'native' ? 'native' : 'classic');
    const result = build(pod, settings, ctx, sidecar);
    if (result.kind !== 'patch') return result;
    const problem = verifyPatch(pod, result.patch, { volume: result.volume, containers: result.containers });
    if (problem !== undefined) return { kind: 'error', reason: 'patch-invalid', message: problem };
    if (ctx.namespace && (ctx.namespace.quotas.length > 0 || ctx.namespace.limitRanges.length > 0)) {
      const after = applyPatchChecked(pod, result.patch);
      const podCap = podLimitRangeVerdict(pod.spec, after.spec, ctx.namespace.limitRanges);
      if (podCap !== undefined) return { kind: 'skip', reason: 'limitrange-violation', message: podCap };
      const ours = [...asArray(asObject(after.spec).containers), ...asArray(asObject(after.spec).initContainers)].filter((c) => result.containers.includes(String(c.name)));
      const refused = quotaVerdict(pod.spec, after.spec, ctx.namespace.quotas, ours);
      if (refused !== undefined) return { kind: 'skip', reason: 'quota-exceeded', message: refused };
    }
    return result;
  } catch (err) {
    return { kind: 'error', reason: 'internal', message: err instanceof Error ? err.message : String(err) };
  }
}
