/**
 * Which sidecar shape the apiserver and the kubelets accept (docs/webhook.md, "Sidecar shape").
 * Pure: versions in, a verdict out; src/webhook/watch/cluster.ts feeds it from GET /version and
 * the nodes' status.nodeInfo.kubeletVersion.
 *
 * Native sidecars (an init container with restartPolicy: Always) are the SidecarContainers
 * feature: alpha and off in 1.28, beta and on by default in 1.29, GA in 1.33. With the gate off,
 * the apiserver refuses a probe on an init container that is not restartable (the patched pod is
 * rejected whatever the failurePolicy), and an old kubelet would run the sidecar as a plain init
 * container that never ends. So native needs ≥ 1.29 on the apiserver and on every kubelet; the
 * classic shape (install-only init container + regular container) is accepted everywhere ≥ 1.28.
 */
import type { SidecarMode, SidecarPolicy } from './types.js';

export const NATIVE_SIDECAR_MIN = { major: 1, minor: 29 } as const;

/** What is known of the cluster's versions; undefined: not known (yet). */
export interface ClusterVersions {
  /** The apiserver's gitVersion, e.g. "v1.29.3+k3s1". */
  apiserver?: string;
  /** Every node's kubeletVersion, once the node list has been read. */
  kubelets?: readonly string[];
}

export interface SidecarSupport {
  /** true: every part accepts native sidecars; false: some part does not; undefined: not known. */
  native: boolean | undefined;
  /** In a few words, for logs and the skip message. */
  why: string;
}

/** "v1.29.3+k3s1" → {1, 29}; undefined for anything else. */
export function parseKubeVersion(text: unknown): { major: number; minor: number } | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^v?(\d{1,3})\.(\d{1,4})(?:\.|$|[-+])/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

const acceptsNative = (v: { major: number; minor: number }): boolean =>
  v.major > NATIVE_SIDECAR_MIN.major || (v.major === NATIVE_SIDECAR_MIN.major && v.minor >= NATIVE_SIDECAR_MIN.minor);

export function nativeSidecarSupport(v: ClusterVersions): SidecarSupport {
  const min = `${NATIVE_SIDECAR_MIN.major}.${NATIVE_SIDECAR_MIN.minor}`;
  const api = v.apiserver === undefined ? undefined : parseKubeVersion(v.apiserver);
  if (v.apiserver !== undefined && api === undefined) return { native: undefined, why: `apiserver version "${v.apiserver.slice(0, 64)}" not understood` };
  if (api && !acceptsNative(api)) return { native: false, why: `apiserver ${v.apiserver ?? ''} is older than ${min}` };
  const old: string[] = [];
  let unreadable = 0;
  for (const k of v.kubelets ?? []) {
    const kv = parseKubeVersion(k);
    if (kv === undefined) unreadable += 1;
    else if (!acceptsNative(kv)) old.push(k);
  }
  if (old.length > 0) return { native: false, why: `${old.length} kubelet(s) older than ${min} (${[...new Set(old)].slice(0, 3).join(', ')})` };
  if (api === undefined) return { native: undefined, why: 'apiserver version not known yet' };
  if (v.kubelets === undefined) return { native: undefined, why: 'kubelet versions not known yet' };
  if (v.kubelets.length === 0) return { native: undefined, why: 'no nodes listed' };
  if (unreadable > 0) return { native: undefined, why: `${unreadable} kubelet version(s) not understood` };
  return { native: true, why: `apiserver and ${v.kubelets.length} kubelet(s) are ${min} or newer` };
}

export type SidecarChoice = { mode: SidecarMode } | { skip: 'sidecar-unsupported'; why: string };

/**
 * auto: native only where known to be accepted, else classic (accepted everywhere ≥ 1.28).
 * native: as asked, unless known not to be accepted (then skip: never a pod the apiserver refuses).
 * classic: always.
 */
export function chooseSidecar(policy: SidecarPolicy, support: SidecarSupport): SidecarChoice {
  if (policy === 'classic') return { mode: 'classic' };
  if (policy === 'auto') return { mode: support.native === true ? 'native' : 'classic' };
  if (support.native === false) return { skip: 'sidecar-unsupported', why: `--sidecar-mode native, but ${support.why}` };
  return { mode: 'native' };
}
