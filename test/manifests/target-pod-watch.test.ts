/**
 * The escaped-pods watch and its RBAC travel together: the only cluster-wide permission (list/watch
 * pods) is rendered exactly when the Deployment turns the watch on, and the
 * no-target-pod-watch component removes both. The watch selects the pods the webhook selects.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TARGET_POD_SELECTOR } from '../../src/webhook/watch/escaped.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { all, at, buildKustomization, buildOverlay, containerEnv, one, OVERLAYS, REPO_ROOT, type K8sObject } from './kustomize.js';

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
}

function webhookContainer(objects: K8sObject[]): Container {
  const containers = at<Container[]>(one(objects, 'Deployment', 'premigration-hooks-webhook'), 'spec', 'template', 'spec', 'containers');
  const c = containers.find((x) => x.name === 'webhook');
  if (!c) throw new Error('no webhook container');
  return c;
}

function watchOn(objects: K8sObject[]): boolean {
  const c = webhookContainer(objects);
  return parseWebhookSettings(c.args?.slice(1) ?? [], containerEnv(objects, c)).watchTargetPods;
}

/** The cluster-wide RBAC of the pod watch (the cluster reader serves the admission decision and stays). */
const WATCH_RBAC = 'premigration-hooks-webhook';
const clusterScoped = (objects: K8sObject[]) => [...all(objects, 'ClusterRole'), ...all(objects, 'ClusterRoleBinding')].filter((o) => o.metadata.name === WATCH_RBAC);

describe.each(OVERLAYS)('overlay %s: target-pod watch and its RBAC', (overlay) => {
  const objects = buildOverlay(overlay);

  it('the watch is on, and the cluster-wide pod read exists for it and grants nothing else', () => {
    expect(watchOn(objects)).toBe(true);
    expect(at(one(objects, 'ClusterRole', WATCH_RBAC), 'rules')).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
    expect(at(one(objects, 'ClusterRoleBinding', WATCH_RBAC), 'roleRef')).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: WATCH_RBAC });
  });

  it('the watch\'s label selector is the MutatingWebhookConfiguration\'s objectSelector', () => {
    const webhook = at<{ objectSelector: { matchLabels: Record<string, string>; matchExpressions: { key: string; operator: string }[] } }[]>(
      one(objects, 'MutatingWebhookConfiguration'), 'webhooks',
    )[0];
    const parts = [
      ...Object.entries(webhook?.objectSelector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
      ...(webhook?.objectSelector.matchExpressions ?? []).map((e) => {
        expect(e.operator).toBe('Exists');
        return e.key;
      }),
    ];
    expect(TARGET_POD_SELECTOR.split(',').sort()).toEqual(parts.sort());
  });
});

describe('kustomize/components/no-target-pod-watch', () => {
  it('turns the watch off and removes the cluster-wide RBAC, leaving every other flag as it was', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'premigration-hooks-nowatch-'));
    try {
      const rel = (p: string) => JSON.stringify(path.relative(dir, path.join(REPO_ROOT, p)));
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${rel('kustomize/overlays/default')}]\n` +
          `components: [${rel('kustomize/components/no-target-pod-watch')}]\n`,
      );
      const without = buildKustomization(dir);
      const withWatch = buildOverlay('default');
      expect(watchOn(without)).toBe(false);
      expect(clusterScoped(without)).toEqual([]);
      expect(clusterScoped(withWatch).map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding']);
      expect(webhookContainer(without).args).toEqual(webhookContainer(withWatch).args);
      const settingsOf = (objects: K8sObject[]) => containerEnv(objects, webhookContainer(objects));
      expect(settingsOf(without)).toEqual({ ...settingsOf(withWatch), PREMIGRATION_HOOKS_WATCH_TARGET_PODS: 'false' });
      // Nothing else changes: the KubeVirt reader stays.
      expect(without.length).toBe(withWatch.length - 2);
      expect(one(without, 'Role').metadata.name).toBe('premigration-hooks-kubevirt-reader');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
