/**
 * Names and paths shared by the webhook's decision, its patch, its docs and the pod watcher.
 * Annotation keys live under this project's own domain; KubeVirt copies VMI annotations onto
 * the launcher pod, so a VM owner can set the opt-out on the VMI.
 */

/** Marker written on every pod we inject; value is JSON (see InjectedMarker). Its presence means "skip". */
export const INJECTED_ANNOTATION = 'premigration-hooks.kubevirt.io/injected';
/** Opt-out: `"false"` on the VMI (copied to the pod) or the pod keeps it untouched. */
export const INJECT_ANNOTATION = 'premigration-hooks.kubevirt.io/inject';

/** KubeVirt's labels (docs/webhook.md, "When a pod is injected"). */
export const KUBEVIRT_APP_LABEL = 'kubevirt.io';
export const LAUNCHER_APP = 'virt-launcher';
export const MIGRATION_JOB_LABEL = 'kubevirt.io/migrationJobUID';

/** KubeVirt's main container; other webhooks rely on it staying at index 0. */
export { COMPUTE_CONTAINER } from '../../core/pod/kubevirt.js';

/** Base name of our volume and container; suffixed deterministically on collision. */
export const BASE_NAME = 'premigration-hooks';

/**
 * Where the client is installed, in compute and in our container alike. libvirt runs
 * `hooks/qemu` (KubeVirt's own, if any) first and then every `qemu.d/` entry in byte order,
 * so our client always runs after upstream's — the order `coexist` mode relies on.
 * Never mount over `hooks/qemu` itself: the 1.8/1.9 launcher replaces that file at runtime.
 */
export const HOOKS_DIR = '/etc/libvirt/hooks/qemu.d';
/** Socket and client config; deliberately outside /var/run/kubevirt-hooks (launcher treats sockets there as gRPC sidecars). */
export const RUN_DIR = '/var/run/premigration-hooks';
export const SOCKET_PATH = `${RUN_DIR}/hooks.sock`;
export const CLIENT_CONF_PATH = `${RUN_DIR}/client.conf`;

/** Sub-directories of our emptyDir volume. */
export const BIN_SUBPATH = 'bin';
export const RUN_SUBPATH = 'run';

/** Paths we must never touch in a launcher pod. */
export const FORBIDDEN_MOUNT_PATHS = ['/etc/libvirt/hooks/qemu', '/var/run/kubevirt-hooks'];

/** The value stored in INJECTED_ANNOTATION. */
export interface InjectedMarker {
  version: string;
  mode: 'inject' | 'coexist';
  hooks: string[];
  sidecar: 'native' | 'classic';
  /** The pod's QoS class before our patch; /validate checks the stored pod still has it. */
  qos?: 'Guaranteed' | 'Burstable' | 'BestEffort';
  /** Names we chose (freeName may suffix them), so /validate finds exactly our objects. */
  container?: string;
  volume?: string;
  /** sidecarDigest() of our container's image, command and args as injected. */
  digest?: string;
  /** sha256:<hex> of the PREMIGRATION_HOOKS_SITE_HOOKS value delivered (docs/site-hooks.md); absent: none. */
  siteHooks?: string;
  /** Classic sidecar mode only: the init container that installs the client before compute starts. */
  install?: string;
  /** sidecarDigest() of that init container. */
  installDigest?: string;
}
