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
import { qosClass, type QosClass } from './qos.js';
import type { InjectSettings } from './types.js';
import { verifyPatch } from './verify-patch.js';
import { isObject, type JsonObject as Json } from '../../shared/json.js';

export interface InjectContext {
  mode: 'inject' | 'coexist';
  /** Hooks the injected server runs (already filtered for the mode; never empty). */
  hooks: string[];
  /** Where and how the in-pod server reports each run; absent: it does not report. */
  report?: ReportEnv;
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
  | { kind: 'patch'; patch: Operation[]; qos: QosClass; volume: string; containers: string[] }
  | { kind: 'skip'; reason: 'no-compute' | 'mount-conflict' }
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
export function resourcesFor(qos: QosClass, s: InjectSettings): Json | undefined {
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

function baseContainer(name: string, volume: string, s: InjectSettings, resources: Json | undefined, report?: ReportEnv): Json {
  return {
    name,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    command: [s.imageCommand],
    // No --target-namespace: the server takes it only together with --source-namespace, which
    // is not known at admission (the source of a decentralized migration is another cluster).
    env: [{ name: 'PREMIGRATION_HOOKS_LOG_LEVEL', value: s.logLevel }, ...reportEnv(report)],
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

/**
 * The startup probe proves the server answers on its socket (GET /healthz over the unix
 * socket), not merely that a file exists. It runs our own CLI, which is in our image.
 * Generous timeouts: with a 100m CPU limit a Node process starts in a few hundred ms.
 */
function startupProbe(s: InjectSettings): Json {
  return {
    exec: { command: [s.imageCommand, 'healthcheck', '--socket', SOCKET_PATH] },
    periodSeconds: 1,
    timeoutSeconds: 5,
    failureThreshold: 120,
  };
}

function containerNames(spec: Json): Set<string> {
  const names = new Set<string>();
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    for (const c of asArray(spec[key])) if (typeof c.name === 'string') names.add(c.name);
  }
  return names;
}

function build(pod: Json, s: InjectSettings, ctx: InjectContext): InjectResult {
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
  const resources = resourcesFor(qos, s);
  const volumeNames = new Set(asArray(spec.volumes).map((v) => String(v.name)));
  const volume = freeName(BASE_NAME, volumeNames);
  const taken = containerNames(spec);
  const serverName = freeName(BASE_NAME, taken);
  // Classic mode's install init container: named after ours, and like it clear of every existing name.
  const installName = s.sidecarMode === 'classic' ? freeName(`${serverName}-install`, new Set([...taken, serverName])) : undefined;

  const ops: Operation[] = [];
  const ensure = (path: string, present: boolean, empty: Json | unknown[]): void => {
    if (!present) ops.push({ op: 'add', path, value: empty });
  };

  const base = { ...baseContainer(serverName, volume, s, resources, ctx.report), args: ['serve', ...serverArgs(s, ctx)] };
  // Same image, mounts, security context and QoS rule as the server, and the same serve args, so
  // it writes exactly the client and client.conf the server writes again at its start. No report
  // env (an install-only run never reports) and no probes (an init container has none).
  const install = installName === undefined
    ? undefined
    : { name: installName, container: { ...baseContainer(installName, volume, s, resources), args: ['serve', ...serverArgs(s, ctx), '--install-only'] } };
  ensure('/metadata', metadata !== undefined, {});
  ensure('/metadata/annotations', isObject(metadata?.annotations), {});
  // qos/container/volume/digest (and install/installDigest) let /validate check the stored pod against what we added.
  const marker: InjectedMarker = {
    version: VERSION, mode: ctx.mode, hooks: ctx.hooks, sidecar: s.sidecarMode, qos, container: serverName, volume, digest: sidecarDigest(base),
    ...(install ? { install: install.name, installDigest: sidecarDigest(install.container) } : {}),
  };
  ops.push({ op: 'add', path: `/metadata/annotations/${escapePointer(INJECTED_ANNOTATION)}`, value: JSON.stringify(marker) });

  ensure('/spec/volumes', Array.isArray(spec.volumes), []);
  // emptyDir in memory: holds the ~1 MiB client, the config and the socket; never touches the node disk.
  ops.push({ op: 'add', path: '/spec/volumes/-', value: { name: volume, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } } });

  const added = [serverName];
  if (s.sidecarMode === 'native') {
    ensure('/spec/initContainers', Array.isArray(spec.initContainers), []);
    // Native sidecar: started, and its startup probe passed, before compute starts, so the
    // qemu.d entry exists before virtqemud scans the hook directory.
    ops.push({ op: 'add', path: '/spec/initContainers/-', value: { ...base, restartPolicy: 'Always', startupProbe: startupProbe(s) } });
  } else if (install) {
    // Classic (Kubernetes without native sidecars): an init container installs the client and
    // writes client.conf and exits (`serve --install-only`), so qemu.d has an entry before compute
    // starts. virtqemud decides at start whether any qemu hook exists (on KubeVirt ≤1.4 nothing
    // else is there) and re-lists qemu.d on every call after that. Then a regular sidecar
    // container serves; KubeVirt starts the migration only when every non-compute container is
    // Ready, i.e. after our startup probe passed; the client asks the server only at migrate or
    // restore begin, which come later.
    ensure('/spec/initContainers', Array.isArray(spec.initContainers), []);
    ops.push({ op: 'add', path: '/spec/initContainers/-', value: install.container });
    ops.push({ op: 'add', path: '/spec/containers/-', value: { ...base, startupProbe: startupProbe(s) } });
    added.push(install.name);
  }

  ensure('/spec/containers/0/volumeMounts', Array.isArray(compute.volumeMounts), []);
  ops.push(
    { op: 'add', path: '/spec/containers/0/volumeMounts/-', value: { name: volume, mountPath: HOOKS_DIR, subPath: BIN_SUBPATH, readOnly: true } },
    // Read-only is enough: connecting to a unix socket does not need a writable mount.
    { op: 'add', path: '/spec/containers/0/volumeMounts/-', value: { name: volume, mountPath: RUN_DIR, subPath: RUN_SUBPATH, readOnly: true } },
  );
  return { kind: 'patch', patch: ops, qos, volume, containers: added };
}

/** Never throws: internal faults become { kind: 'error' }. */
export function inject(pod: unknown, settings: InjectSettings, ctx: InjectContext): InjectResult {
  try {
    if (!isObject(pod)) return { kind: 'skip', reason: 'no-compute' };
    const result = build(pod, settings, ctx);
    if (result.kind !== 'patch') return result;
    const problem = verifyPatch(pod, result.patch, { volume: result.volume, containers: result.containers });
    return problem === undefined ? result : { kind: 'error', reason: 'patch-invalid', message: problem };
  } catch (err) {
    return { kind: 'error', reason: 'internal', message: err instanceof Error ? err.message : String(err) };
  }
}
