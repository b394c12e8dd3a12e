/**
 * Test helper: build a kustomize overlay with the real `kubectl kustomize` and give typed-enough
 * access to the objects it renders. No kustomize logic is re-implemented here.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const OVERLAYS = ['default', 'openshift', 'hco', 'prometheus'] as const;
export type Overlay = (typeof OVERLAYS)[number];
/** Where each overlay expects the KubeVirt CR and KubeVirt's controller. */
export const KUBEVIRT_NAMESPACE: Record<Overlay, string> = { default: 'kubevirt', openshift: 'openshift-cnv', hco: 'kubevirt-hyperconverged', prometheus: 'kubevirt' };

/** A rendered Kubernetes object; fields are read with the accessors below, which fail loudly. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export function kubectl(): string {
  return process.env.KUBECTL ?? 'kubectl';
}

/** `kubectl kustomize <dir>` → the objects, in output order. Throws with kustomize's stderr on failure. */
export function buildKustomization(dir: string): K8sObject[] {
  const out = execFileSync(kubectl(), ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  return parseAllDocuments(out).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`kustomize output is not valid YAML: ${doc.errors[0]?.message}`);
    return doc.toJS() as K8sObject;
  });
}

export function buildOverlay(overlay: Overlay): K8sObject[] {
  return buildKustomization(path.join(REPO_ROOT, 'kustomize', 'overlays', overlay));
}

export function ref(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

export function all(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** Exactly one object of this kind (and name, if given), else a descriptive failure. */
export function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0] as K8sObject;
}

/** Read a nested field by path; throws naming the path when something on the way is missing. */
export function at<T = unknown>(o: unknown, ...keys: (string | number)[]): T {
  let cur: unknown = o;
  for (const [i, k] of keys.entries()) {
    if (cur === null || typeof cur !== 'object' || !(k in (cur))) {
      throw new Error(`missing field .${keys.slice(0, i + 1).join('.')}`);
    }
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur as T;
}

/** True when every key=value of `selector` is among `labels` (a matchLabels-only selector). */
export function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

interface EnvContainer {
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
}

/**
 * The environment a container gets, as the kubelet builds it: every envFrom ConfigMap of the
 * rendered objects (in order), then env, which wins. Throws when a referenced ConfigMap is missing.
 */
export function containerEnv(objects: K8sObject[], c: EnvContainer, namespace = 'premigration-hooks'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (!name) continue;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name && o.metadata.namespace === namespace);
    if (!cm) throw new Error(`envFrom names ConfigMap ${namespace}/${name}, which is not rendered`);
    Object.assign(out, (cm as { data?: Record<string, string> }).data ?? {});
  }
  for (const e of c.env ?? []) out[e.name] = e.value ?? '';
  return out;
}
