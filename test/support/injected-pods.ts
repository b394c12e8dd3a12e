/**
 * Target pods as the apiserver would store them after our /mutate: a fixture pod run through
 * the real admit() and the patch applied with the same checked apply the webhook uses. The
 * "someone else" mutations the validation tests apply on top of them live here too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { admit, type AdmitState } from '../../src/webhook/admission/admit.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import type { InjectSettings } from '../../src/webhook/admission/types.js';
import { applyPatchChecked } from '../../src/webhook/admission/verify-patch.js';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const IMAGE = 'registry.example.com/premigration-hooks:v0.1.0';
const PODS = join(process.cwd(), 'test/fixtures/pods');

export function fixturePod(name: string): Json {
  return JSON.parse(readFileSync(join(PODS, `${name}.json`), 'utf8')) as Json;
}

export function injectSettings(extra: string[] = []): InjectSettings {
  // Every target injected (shared-CPU fixtures too), native sidecars unless a test asks otherwise.
  return parseWebhookSettings(['--dev-self-signed', '--image', IMAGE, '--inject-policy', 'always', '--sidecar-mode', 'native', ...extra]).inject;
}

export function podReview(object: unknown, request: Json = {}): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'c0ffee00-0000-4000-8000-000000000007',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'prod-db',
      operation: 'CREATE',
      object,
      oldObject: null,
      dryRun: false,
      ...request,
    },
  };
}

/** The fixture after our real admission patch. Throws when admit() did not inject. */
export function injectedPod(fixture: string, extra: Partial<AdmitState> = {}, flags: string[] = []): Json {
  const pod = fixturePod(fixture);
  const state: AdmitState = { gate: { mode: 'inject', gateEnabled: true, kubevirtVersion: 'v1.7.2', reason: 'test' }, settings: injectSettings(flags), ...extra };
  const { review, outcome } = admit(podReview(pod), state);
  if (outcome.result !== 'injected' || !review.response.patch) throw new Error(`${fixture} was not injected: ${outcome.reason}`);
  return applyPatchChecked(pod, JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as never);
}

/** What other admission webhooks have been seen doing to a pod after ours. */
export const mutations = {
  /** Istio-style: drop init containers it does not know. */
  removeSidecar(pod: Json): Json {
    pod.spec.initContainers = (pod.spec.initContainers as Json[]).filter((c) => !String(c.name).startsWith('premigration-hooks'));
    return pod;
  },
  /** A typed round-trip through an old client library loses the native-sidecar field. */
  dropRestartPolicy(pod: Json): Json {
    for (const c of pod.spec.initContainers as Json[]) if (String(c.name).startsWith('premigration-hooks')) delete c.restartPolicy;
    return pod;
  },
  /** A proxy injector adds a container with requests and no limits: Guaranteed → Burstable. */
  addBurstableContainer(pod: Json): Json {
    (pod.spec.containers as Json[]).push({ name: 'mesh-proxy', image: 'example.com/proxy:1', resources: { requests: { cpu: '10m', memory: '32Mi' } } });
    return pod;
  },
  /** Removes compute's mount of hooks/qemu.d/. */
  removeHooksMount(pod: Json): Json {
    const compute = (pod.spec.containers as Json[])[0] as Json;
    compute.volumeMounts = (compute.volumeMounts as Json[]).filter((m) => m.mountPath !== '/etc/libvirt/hooks/qemu.d');
    return pod;
  },
};
