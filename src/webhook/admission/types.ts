import type { OnErrorPolicy } from '../../protocol/policy.js';
/** Shared webhook types: the gate/mode state that admission decisions depend on. */

/**
 * inject  — we inject our server + client (KubeVirt without working in-tree hooks).
 * coexist — upstream hooks are active: inject only the hooks upstream lacks or does only in part
 *           (src/core/hooks/registry.ts), chained after upstream's client, or nothing.
 * off     — feature gate off: inject nothing.
 */
export type Mode = 'inject' | 'coexist' | 'off';

export interface GateState {
  mode: Mode;
  /** Is LibvirtHooksServerAndClient in effect, per KubeVirt's own evaluation rules? */
  gateEnabled: boolean;
  /** status.observedKubeVirtVersion, e.g. "v1.7.2"; undefined when unknown. */
  kubevirtVersion?: string;
  /** Short human reason for the mode, logged once per change. */
  reason: string;
}

/** Where the gate comes from: the KubeVirt CR (watched), or a static override. */
export type GateSource = 'kubevirt' | 'always' | 'never';

export interface GateProvider {
  current(): GateState;
  /** True once the first list has been processed (always true for static sources). */
  synced(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The shape of the injected server: a native sidecar (restartable init container) or a regular container. */
export type SidecarMode = 'native' | 'classic';
/** --sidecar-mode: `auto` picks native only where the apiserver and every kubelet accept it. */
export type SidecarPolicy = 'auto' | SidecarMode;
/** --inject-policy: `needed` injects only where an enabled hook applies to the pod; `always` every target. */
export type InjectPolicy = 'needed' | 'always';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** What the patch needs: everything that shapes the injected containers. */
export interface InjectSettings {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Executable of the `premigration-hooks` CLI inside our image (command of our containers; the probe runs the hook client). */
  imageCommand: string;
  sidecarMode: SidecarPolicy;
  injectPolicy: InjectPolicy;
  /** Hooks the in-pod server runs in `inject` mode; `coexist` keeps only those upstream lacks. */
  hooks: string[];
  /** Hooks left to upstream in `coexist` mode although upstream does them only in part (--coexist-cpu-dedicated=false). */
  trustUpstream: string[];
  onError: OnErrorPolicy;
  clientTimeoutMs: number;
  logLevel: LogLevel;
  /** Guaranteed pods: requests == limits. */
  guaranteed: { cpu: string; memory: string };
  /** Burstable pods: requests only. BestEffort pods get no resources (adding any would change the class). */
  burstable: { cpu: string; memory: string };
}

