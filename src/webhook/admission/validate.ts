/**
 * validate(review, settings): the ValidatingWebhookConfiguration's decision on the pod as it
 * will be stored, after every mutating webhook (ours and others) has run. Another webhook can
 * remove or reorder what we added (Istio's injector has dropped others' init containers) or
 * push the pod out of Guaranteed QoS; our /mutate never sees that final pod.
 *
 * Pure and total: it never throws. Pods we never injected are allowed silently. For injected
 * pods every check that fails is a violation; policy `warn` allows with admission warnings,
 * `deny` rejects with one clear message (the migration then fails and the VM stays on the
 * source). An internal fault is allowed with a warning and counted, whatever the policy.
 */
import { ADMISSION_V1 } from './admit.js';
import { parseMarker, sidecarDigest } from './marker.js';
import {
  BASE_NAME, BIN_SUBPATH, COMPUTE_CONTAINER, HOOKS_DIR, INJECTED_ANNOTATION, RUN_DIR, RUN_SUBPATH, type InjectedMarker,
} from './names.js';
import { qosClass } from '../../core/pod/qos.js';
import { isObject, type JsonObject as Json } from '../../shared/json.js';

export type ValidatePolicy = 'warn' | 'deny';

export interface ValidateSettings {
  policy: ValidatePolicy;
}

/** Bounded (a metric label): one per check in the module comment. */
export type ViolationCheck =
  | 'marker-invalid'
  | 'marker-missing'
  | 'marker-mismatch'
  | 'sidecar-missing'
  | 'sidecar-restart-policy'
  | 'sidecar-changed'
  | 'mount-missing'
  | 'volume-missing'
  | 'qos-changed';

export const VIOLATION_CHECKS: readonly ViolationCheck[] = [
  'marker-invalid', 'marker-missing', 'marker-mismatch', 'sidecar-missing', 'sidecar-restart-policy',
  'sidecar-changed', 'mount-missing', 'volume-missing', 'qos-changed',
];

export interface Violation {
  check: ViolationCheck;
  /** Short and free of pod contents beyond names we chose; ≤ 100 characters. */
  message: string;
}

export type ValidateResult = 'ok' | 'violation' | 'skipped' | 'error';

export interface ValidateOutcome {
  result: ValidateResult;
  /** For skipped: why (not-pod, not-create, not-injected, bad-review). */
  reason: string;
  violations: Violation[];
  denied: boolean;
  dryRun: boolean;
  uid: string;
  namespace?: string;
  message?: string;
}

export interface ValidationResponse {
  uid: string;
  allowed: boolean;
  warnings?: string[];
  status?: { code: number; reason: string; message: string };
}

export interface ValidationReviewOut {
  apiVersion: string;
  kind: string;
  response: ValidationResponse;
}

export interface Validation {
  review: ValidationReviewOut;
  outcome: ValidateOutcome;
}

const asArray = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** kubectl prints warnings as they are; the apiserver asks for ≤ 120 characters each. */
const MAX_WARNING = 120;
const PREFIX = 'premigration-hooks: ';
const warning = (text: string): string => (PREFIX + text).slice(0, MAX_WARNING);

/** Our server container: `serve` as the first argument and a mount of qemu.d/. */
function looksLikeOurs(c: Json): boolean {
  const name = str(c.name) ?? '';
  const args = Array.isArray(c.args) ? c.args : [];
  return name.startsWith(BASE_NAME) && args[0] === 'serve' && asArray(c.volumeMounts).some((m) => m.mountPath === HOOKS_DIR);
}

function flagValue(args: unknown, flag: string): string | undefined {
  if (!Array.isArray(args)) return undefined;
  const i = args.indexOf(flag);
  return i >= 0 ? str(args[i + 1]) : undefined;
}

/**
 * Classic mode's install init container (absent from markers written before it existed): still an
 * init container, so the client is in qemu.d/ before compute starts, and unchanged. Same check
 * labels as the server container: to an operator both are "the injection was undone".
 */
function checkInstallContainer(
  inits: Json[], mains: Json[], marker: InjectedMarker, name: string, add: (check: ViolationCheck, message: string) => void,
): void {
  const install = inits.find((c) => c.name === name);
  if (!install) {
    if (mains.some((c) => c.name === name)) add('marker-mismatch', `install container ${name} is no longer an init container`);
    else add('sidecar-missing', `install init container ${name} was removed`);
    return;
  }
  if (marker.installDigest !== undefined && sidecarDigest(install) !== marker.installDigest) {
    add('sidecar-changed', `${name} image, command or args changed after injection`);
  }
  const hooks = flagValue(install.args, '--hooks');
  if (hooks !== undefined && hooks !== marker.hooks.join(',')) add('marker-mismatch', `marker hooks differ from ${name} --hooks`);
}

/** Every check on a pod that carries our marker. */
export function checkInjectedPod(spec: Json, marker: InjectedMarker): Violation[] {
  const out: Violation[] = [];
  const add = (check: ViolationCheck, message: string): void => {
    out.push({ check, message });
  };
  const inits = asArray(spec.initContainers);
  const mains = asArray(spec.containers);
  const name = marker.container ?? BASE_NAME;
  const expected = marker.sidecar === 'native' ? inits : mains;
  const other = marker.sidecar === 'native' ? mains : inits;
  const server = expected.find((c) => c.name === name);

  if (!server) {
    if (other.some((c) => c.name === name)) {
      add('marker-mismatch', `container ${name} is not where sidecar mode ${marker.sidecar} put it`);
    } else {
      add('sidecar-missing', `hook server container ${name} was removed`);
    }
  } else {
    if (marker.sidecar === 'native' && server.restartPolicy !== 'Always') {
      add('sidecar-restart-policy', `${name} lost restartPolicy Always (no longer a native sidecar)`);
    }
    if (marker.digest !== undefined && sidecarDigest(server) !== marker.digest) {
      add('sidecar-changed', `${name} image, command or args changed after injection`);
    }
    const hooks = flagValue(server.args, '--hooks');
    if (hooks !== undefined && hooks !== marker.hooks.join(',')) {
      add('marker-mismatch', `marker hooks differ from ${name} --hooks`);
    }
  }
  if (marker.sidecar === 'classic' && marker.install !== undefined) checkInstallContainer(inits, mains, marker, marker.install, add);

  const volume = marker.volume
    ?? str(asArray(server?.volumeMounts).find((m) => m.mountPath === HOOKS_DIR)?.name)
    ?? BASE_NAME;
  if (!asArray(spec.volumes).some((v) => v.name === volume)) add('volume-missing', `volume ${volume} was removed`);

  const compute = mains.find((c) => c.name === COMPUTE_CONTAINER);
  const mounts = asArray(compute?.volumeMounts);
  for (const [path, sub] of [[HOOKS_DIR, BIN_SUBPATH], [RUN_DIR, RUN_SUBPATH]] as const) {
    if (!mounts.some((m) => m.mountPath === path && m.name === volume && m.subPath === sub)) {
      add('mount-missing', `compute no longer mounts ${path}`);
    }
  }

  if (marker.qos !== undefined) {
    const now = qosClass(spec);
    if (now !== marker.qos) add('qos-changed', `pod QoS is ${now}, was ${marker.qos} before injection`);
  }
  return out;
}

function decide(body: unknown, settings: ValidateSettings, out: ValidationReviewOut, outcome: ValidateOutcome): void {
  const done = (result: ValidateResult, reason: string): void => {
    outcome.result = result;
    outcome.reason = reason;
  };
  if (!isObject(body)) return done('error', 'bad-review');
  out.apiVersion = str(body.apiVersion) ?? ADMISSION_V1;
  out.kind = str(body.kind) ?? 'AdmissionReview';
  const request = body.request;
  if (!isObject(request)) return done('error', 'bad-review');
  outcome.uid = str(request.uid) ?? '';
  out.response.uid = outcome.uid;
  outcome.dryRun = request.dryRun === true;
  const kind = isObject(request.kind) ? request.kind : {};
  if (kind.kind !== 'Pod' || (kind.group ?? '') !== '' || (str(request.subResource) ?? '') !== '') return done('skipped', 'not-pod');
  if (request.operation !== 'CREATE') return done('skipped', 'not-create');
  const pod = isObject(request.object) ? request.object : {};
  const metadata = isObject(pod.metadata) ? pod.metadata : {};
  const namespace = str(request.namespace) || str(metadata.namespace) || '';
  if (namespace) outcome.namespace = namespace;
  const spec = isObject(pod.spec) ? pod.spec : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};

  let violations: Violation[];
  if (!(INJECTED_ANNOTATION in annotations)) {
    const ours = [...asArray(spec.initContainers), ...asArray(spec.containers)].find(looksLikeOurs);
    if (!ours) return done('skipped', 'not-injected');
    violations = [{ check: 'marker-missing', message: `injected marker annotation removed (container ${String(ours.name)})` }];
  } else {
    const marker = parseMarker(annotations[INJECTED_ANNOTATION]);
    violations = marker ? checkInjectedPod(spec, marker) : [{ check: 'marker-invalid', message: 'injected marker annotation is not valid' }];
  }
  outcome.violations = violations;
  if (violations.length === 0) return done('ok', 'intact');
  done('violation', violations[0]?.check ?? 'violation');
  if (settings.policy === 'deny') {
    outcome.denied = true;
    out.response.allowed = false;
    out.response.status = {
      code: 403,
      reason: 'Forbidden',
      message:
        `premigration-hooks: another admission step broke the hook injection: ${violations.map((v) => v.message).join('; ')}. ` +
        'Rejected by --validate-policy=deny; the migration fails and the VM stays on its source.',
    };
  } else {
    out.response.warnings = violations.map((v) => warning(v.message));
  }
}

export function validate(body: unknown, settings: ValidateSettings): Validation {
  const review: ValidationReviewOut = { apiVersion: ADMISSION_V1, kind: 'AdmissionReview', response: { uid: '', allowed: true } };
  const outcome: ValidateOutcome = { result: 'error', reason: 'internal', violations: [], denied: false, dryRun: false, uid: '' };
  try {
    decide(body, settings, review, outcome);
  } catch (err) {
    // Our fault must never reject a pod: allow, say so, count it.
    review.response = { uid: review.response.uid, allowed: true, warnings: [warning('validation skipped after an internal error')] };
    outcome.result = 'error';
    outcome.reason = 'internal';
    outcome.denied = false;
    outcome.message = err instanceof Error ? err.message : String(err);
  }
  return { review, outcome };
}
