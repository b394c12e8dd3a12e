/**
 * Is this pod a migration-target virt-launcher pod that we may inject? (docs/webhook.md)
 * Pure and total: any JSON in, a verdict out.
 */
import {
  INJECTED_ANNOTATION, INJECT_ANNOTATION, KUBEVIRT_APP_LABEL, LAUNCHER_APP, MIGRATION_JOB_LABEL,
} from './names.js';

export type TargetSkip =
  | 'not-launcher' // no kubevirt.io=virt-launcher label (includes non-KubeVirt pods)
  | 'hotplug-pod' // kubevirt.io=hotplug-disk: carries the migration label but is an attachment pod
  | 'not-migration-target' // a launcher pod without kubevirt.io/migrationJobUID (a VM starting)
  | 'already-injected'
  | 'opted-out';

function stringMap(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** undefined: inject; otherwise why not. */
export function targetSkipReason(pod: unknown): TargetSkip | undefined {
  const metadata = stringMap(stringMap(pod).metadata);
  const labels = stringMap(metadata.labels);
  const annotations = stringMap(metadata.annotations);
  const app = labels[KUBEVIRT_APP_LABEL];
  if (app === 'hotplug-disk') return 'hotplug-pod';
  if (app !== LAUNCHER_APP) return 'not-launcher';
  const job = labels[MIGRATION_JOB_LABEL];
  if (typeof job !== 'string' || job === '') return 'not-migration-target';
  if (INJECTED_ANNOTATION in annotations) return 'already-injected';
  if (String(annotations[INJECT_ANNOTATION]).toLowerCase() === 'false') return 'opted-out';
  return undefined;
}
