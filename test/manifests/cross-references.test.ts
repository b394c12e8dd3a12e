/**
 * What a schema cannot see: the objects of each rendered overlay must fit together, and the
 * webhook's own flag parser must accept what the Deployment passes it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { all, at, buildKustomization, buildOverlay, containerEnv, KUBEVIRT_NAMESPACE, one, OVERLAYS, ref, REPO_ROOT, selects, type K8sObject } from './kustomize.js';

const NAMESPACE = 'premigration-hooks';
const MONITORING_NAMESPACE = { default: 'monitoring', openshift: 'openshift-user-workload-monitoring', hco: 'monitoring', prometheus: 'monitoring' } as const;

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
}
interface WebhookEntry {
  name: string;
  clientConfig: { service?: { name: string; namespace: string; port?: number; path?: string }; url?: string };
  rules: { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }[];
  objectSelector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  namespaceSelector: { matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  matchConditions?: { name: string; expression: string }[];
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  reinvocationPolicy: string;
  matchPolicy: string;
  admissionReviewVersions: string[];
}

function podTemplate(d: K8sObject): { labels: Record<string, string>; spec: PodSpec } {
  return { labels: at(d, 'spec', 'template', 'metadata', 'labels'), spec: at(d, 'spec', 'template', 'spec') };
}

function webhookContainer(d: K8sObject): Container {
  const c = podTemplate(d).spec.containers.find((x) => x.name === 'webhook');
  if (!c) throw new Error('Deployment has no container named webhook');
  return c;
}


function theWebhook(objects: K8sObject[]): WebhookEntry {
  const hooks = at<WebhookEntry[]>(one(objects, 'MutatingWebhookConfiguration'), 'webhooks');
  expect(hooks).toHaveLength(1);
  return hooks[0] as WebhookEntry;
}

describe.each(OVERLAYS)('overlay %s: cross-references', (overlay) => {
  const objects = buildOverlay(overlay);
  const deployment = one(objects, 'Deployment', 'premigration-hooks-webhook');
  const pod = podTemplate(deployment);
  const container = webhookContainer(deployment);
  const containerPorts = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  const webhookService = one(objects, 'Service', 'premigration-hooks-webhook');
  const metricsService = one(objects, 'Service', 'premigration-hooks-webhook-metrics');
  const webhook = theWebhook(objects);
  const envOf = (c: Container): Record<string, string> => containerEnv(objects, c);

  it('every namespaced object lives in our namespace, except the KubeVirt reader in KubeVirt\'s', () => {
    for (const o of objects) {
      if (['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'PriorityClass', 'CustomResourceDefinition'].includes(o.kind)) {
        expect(o.metadata.namespace).toBeUndefined();
      } else if (o.kind === 'Role' || o.kind === 'RoleBinding') {
        expect(o.metadata.namespace).toBe(KUBEVIRT_NAMESPACE[overlay]);
      } else {
        expect([ref(o), o.metadata.namespace]).toEqual([ref(o), NAMESPACE]);
      }
    }
    expect(one(objects, 'Namespace').metadata.name).toBe(NAMESPACE);
  });

  it('the Deployment selector, Services, PDB, anti-affinity and NetworkPolicy all select the pod template', () => {
    const selectors: [string, Record<string, string>][] = [
      ['Deployment.spec.selector', at(deployment, 'spec', 'selector', 'matchLabels')],
      ['Service webhook', at(webhookService, 'spec', 'selector')],
      ['Service metrics', at(metricsService, 'spec', 'selector')],
      ['PodDisruptionBudget', at(one(objects, 'PodDisruptionBudget'), 'spec', 'selector', 'matchLabels')],
      ['NetworkPolicy', at(one(objects, 'NetworkPolicy'), 'spec', 'podSelector', 'matchLabels')],
      [
        'podAntiAffinity',
        at(deployment, 'spec', 'template', 'spec', 'affinity', 'podAntiAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', 0, 'podAffinityTerm', 'labelSelector', 'matchLabels'),
      ],
    ];
    for (const [what, selector] of selectors) expect([what, selects(selector, pod.labels)]).toEqual([what, true]);
    expect(at(deployment, 'spec', 'template', 'spec', 'affinity', 'podAntiAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', 0, 'podAffinityTerm', 'topologyKey')).toBe(
      'kubernetes.io/hostname',
    );
  });

  it('Service ports target container ports by name: 443 → https, 8444 → report, metrics → metrics', () => {
    const ports = (s: K8sObject) => at<{ name: string; port: number; targetPort: string | number }[]>(s, 'spec', 'ports');
    expect(ports(webhookService)).toEqual([
      expect.objectContaining({ name: 'https', port: 443, targetPort: 'https' }),
      expect.objectContaining({ name: 'report', port: 8444, targetPort: 'report' }),
    ]);
    expect(ports(metricsService)).toEqual([expect.objectContaining({ name: 'metrics', targetPort: 'metrics' })]);
    for (const p of [...ports(webhookService), ...ports(metricsService)]) expect(containerPorts.has(String(p.targetPort))).toBe(true);
  });

  it('the NetworkPolicy admits the admission port from anywhere, the metrics port only from the monitoring namespace, the report port only from pods', () => {
    const np = one(objects, 'NetworkPolicy');
    expect(at(np, 'spec', 'policyTypes')).toEqual(['Ingress']);
    const ingress = at<{ ports: { port: string }[]; from?: unknown }[]>(np, 'spec', 'ingress');
    const ports = ingress.flatMap((rule) => rule.ports.map((p) => p.port)).sort();
    expect(ports).toEqual(['https', 'metrics', 'report']);
    for (const p of ports) expect(containerPorts.has(p)).toBe(true);
    const https = ingress.find((r) => r.ports.some((p) => p.port === 'https'));
    expect(https?.from).toBeUndefined();
    const metrics = ingress.find((r) => r.ports.some((p) => p.port === 'metrics'));
    expect(metrics?.ports).toHaveLength(1);
    expect(metrics?.from).toEqual([
      { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [MONITORING_NAMESPACE[overlay]] }] } },
    ]);
    // Each port its own rule, so the admission port can be narrowed without touching /report.
    expect(ingress.every((rule) => rule.ports.length === 1)).toBe(true);
    // /report only from pods.
    expect(ingress.find((rule) => rule.ports[0]?.port === 'report')?.from).toEqual([{ namespaceSelector: {} }]);
  });

  it('the webhook runs at its own PriorityClass: above ordinary pods, below system-*, never the default', () => {
    const name = at<string>(deployment, 'spec', 'template', 'spec', 'priorityClassName');
    const pc = one(objects, 'PriorityClass', name);
    expect(at<number>(pc, 'value')).toBeGreaterThan(0);
    expect(at<number>(pc, 'value')).toBeLessThan(1_000_000_000);
    expect(at(pc, 'globalDefault')).toBe(false);
  });

  it('the webhook\'s clientConfig points at the webhook Service on 443, path /mutate', () => {
    const svc = webhook.clientConfig.service;
    expect(webhook.clientConfig.url).toBeUndefined();
    expect(svc).toEqual({ name: webhookService.metadata.name, namespace: webhookService.metadata.namespace, port: 443, path: '/mutate' });
    expect(at<{ port: number }[]>(webhookService, 'spec', 'ports').map((p) => p.port)).toContain(svc?.port);
  });

  it('cert-manager chain: self-signed Issuer → CA Certificate → CA Issuer → serving Certificate', () => {
    const issuers = new Map(all(objects, 'Issuer').map((i) => [i.metadata.name, i]));
    const certs = new Map(all(objects, 'Certificate').map((c) => [c.metadata.name, c]));
    const serving = certs.get('premigration-hooks-webhook-tls') as K8sObject;
    const caIssuer = issuers.get(at(serving, 'spec', 'issuerRef', 'name')) as K8sObject;
    expect(at(serving, 'spec', 'issuerRef', 'kind')).toBe('Issuer');
    const caSecret = at<string>(caIssuer, 'spec', 'ca', 'secretName');
    const ca = [...certs.values()].find((c) => at(c, 'spec', 'secretName') === caSecret) as K8sObject;
    expect(at(ca, 'spec', 'isCA')).toBe(true);
    const root = issuers.get(at(ca, 'spec', 'issuerRef', 'name')) as K8sObject;
    expect(at(root, 'spec', 'selfSigned')).toEqual({});
    expect(at<Record<string, unknown>>(serving, 'spec').isCA).toBeUndefined();
  });

  it('the serving Certificate covers the Service\'s DNS names and the CA outlives it', () => {
    const serving = one(objects, 'Certificate', 'premigration-hooks-webhook-tls');
    const svc = `${webhookService.metadata.name}.${webhookService.metadata.namespace}.svc`;
    expect(at<string[]>(serving, 'spec', 'dnsNames').sort()).toEqual([svc, `${svc}.cluster.local`]);
    const hours = (o: K8sObject, f: string) => Number(/^(\d+)h$/.exec(at<string>(o, 'spec', f))?.[1]);
    const ca = one(objects, 'Certificate', 'premigration-hooks-ca');
    expect(hours(ca, 'duration')).toBeGreaterThan(hours(serving, 'duration'));
    expect(hours(serving, 'renewBefore')).toBeLessThan(hours(serving, 'duration'));
  });

  it('cert-manager.io/inject-ca-from names the serving Certificate', () => {
    const target = one(objects, 'MutatingWebhookConfiguration').metadata.annotations?.['cert-manager.io/inject-ca-from'] ?? '';
    const [ns, name] = target.split('/');
    const cert = one(objects, 'Certificate', name);
    expect(cert.metadata.namespace).toBe(ns);
  });

  it('the serving Certificate\'s Secret is mounted as a directory (no subPath) where --tls-cert-dir points', () => {
    const secretName = at<string>(one(objects, 'Certificate', 'premigration-hooks-webhook-tls'), 'spec', 'secretName');
    const volume = pod.spec.volumes?.find((v) => v.secret?.secretName === secretName);
    expect(volume).toBeDefined();
    const mounts = (container.volumeMounts ?? []).filter((m) => m.name === volume?.name);
    expect(mounts).toHaveLength(1);
    expect(mounts[0]?.subPath).toBeUndefined();
    expect(mounts[0]?.readOnly).toBe(true);
    const settings = parseWebhookSettings(container.args?.slice(1) ?? [], envOf(container));
    expect(settings.tlsCertDir).toBe(mounts[0]?.mountPath);
  });

  it('the webhook\'s own flag parser accepts the Deployment\'s args and env, and they agree with the ports', () => {
    expect(at(deployment, 'spec', 'template', 'spec', 'containers', 0, 'command')).toEqual(['premigration-hooks']);
    expect(container.args?.[0]).toBe('webhook');
    const settings = parseWebhookSettings(container.args?.slice(1) ?? [], envOf(container));
    expect(settings.port).toBe(containerPorts.get('https'));
    expect(settings.reportPort).toBe(containerPorts.get('report'));
    expect(settings.metricsPort).toBe(containerPorts.get('metrics'));
    expect(settings.gateSource).toBe('kubevirt');
    expect(settings.watchTargetPods).toBe(true);
    expect(settings.devSelfSigned).toBe(false);
  });

  it('the image injected into target pods is the image the webhook runs', () => {
    const settings = parseWebhookSettings(container.args?.slice(1) ?? [], envOf(container));
    expect(settings.inject.image).toBe(container.image);
    expect(container.image).toMatch(/:[\w.-]+$|@sha256:[0-9a-f]{64}$/);
  });

  it('KubeVirt\'s namespace agrees everywhere: --kubevirt-namespace, the Role, the CEL matchConditions', () => {
    const settings = parseWebhookSettings(container.args?.slice(1) ?? [], envOf(container));
    const ns = KUBEVIRT_NAMESPACE[overlay];
    expect(settings.kubevirtNamespace).toBe(ns);
    expect(one(objects, 'Role').metadata.namespace).toBe(ns);
    expect(webhook.matchConditions).toEqual([
      { name: 'kubevirt-controller-only', expression: `request.userInfo.username == 'system:serviceaccount:${ns}:kubevirt-controller'` },
    ]);
    expect(at(one(objects, 'ValidatingWebhookConfiguration', 'premigration-hooks'), 'webhooks', 0, 'matchConditions')).toEqual(webhook.matchConditions);
    expect(one(objects, 'RoleBinding').metadata.namespace).toBe(ns);
  });

  it('no other KubeVirt namespace is left anywhere in the render (every service-account reference, every namespace)', () => {
    const text = JSON.stringify(objects);
    const accounts = [...text.matchAll(/system:serviceaccount:([\w-]+):kubevirt-controller/g)].map((m) => m[1]);
    expect(accounts.length).toBe(2);
    expect(new Set(accounts)).toEqual(new Set([KUBEVIRT_NAMESPACE[overlay]]));
    const namespaces = new Set(objects.map((o) => o.metadata.namespace).filter((n) => n !== undefined));
    expect(namespaces).toEqual(new Set([NAMESPACE, KUBEVIRT_NAMESPACE[overlay]]));
    // The local-config settings ConfigMap is consumed by kustomize, never applied.
    expect(objects.filter((o) => o.metadata.name === 'premigration-hooks-install')).toEqual([]);
  });

  it('the webhook matches only CREATE of pods by migration-target launchers, outside our namespace', () => {
    expect(webhook.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(webhook.objectSelector).toEqual({
      matchLabels: { 'kubevirt.io': 'virt-launcher' },
      matchExpressions: [{ key: 'kubevirt.io/migrationJobUID', operator: 'Exists' }],
    });
    expect(webhook.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [deployment.metadata.namespace] });
  });

  it('the webhook fails open, fast, with no side effects, v1 reviews only', () => {
    expect(webhook).toMatchObject({
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      reinvocationPolicy: 'Never',
      matchPolicy: 'Equivalent',
      admissionReviewVersions: ['v1'],
    });
    expect(webhook.timeoutSeconds).toBeGreaterThanOrEqual(1);
    expect(webhook.timeoutSeconds).toBeLessThanOrEqual(5);
  });

  it('the ValidatingWebhookConfiguration: same scope and safety as the mutating one, path /validate, same CA injection', () => {
    const validating = one(objects, 'ValidatingWebhookConfiguration', 'premigration-hooks');
    const hooks = at<WebhookEntry[]>(validating, 'webhooks');
    expect(hooks).toHaveLength(1);
    const v = hooks[0] as WebhookEntry;
    for (const field of ['rules', 'objectSelector', 'namespaceSelector', 'matchConditions', 'failurePolicy', 'sideEffects', 'matchPolicy', 'admissionReviewVersions'] as const) {
      expect([field, v[field]]).toEqual([field, webhook[field]]);
    }
    expect(v.clientConfig).toEqual({ service: { ...webhook.clientConfig.service, path: '/validate' } });
    expect(v.name).not.toBe(webhook.name);
    expect(v.timeoutSeconds).toBeLessThanOrEqual(5);
    expect(validating.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(
      one(objects, 'MutatingWebhookConfiguration').metadata.annotations?.['cert-manager.io/inject-ca-from'],
    );
  });

  it('hook reports: --report-url is the webhook Service\'s report port under a name the serving Certificate covers', () => {
    const settings = parseWebhookSettings(container.args?.slice(1) ?? [], envOf(container));
    const url = new URL(settings.reportUrl ?? '');
    expect(url.protocol).toBe('https:');
    expect(url.pathname).toBe('/report');
    expect(url.hostname).toBe(`${webhookService.metadata.name}.${webhookService.metadata.namespace}.svc`);
    expect(at<string[]>(one(objects, 'Certificate', 'premigration-hooks-webhook-tls'), 'spec', 'dnsNames')).toContain(url.hostname);
    const reportPort = at<{ name: string; port: number; targetPort: string }[]>(webhookService, 'spec', 'ports').find((p) => p.port === Number(url.port || 443));
    expect(reportPort?.targetPort).toBe('report');
  });

  it('hook reports: the CA bundle is ca.crt of the mounted serving Secret; the key is an optional, admin-made Secret mounted read-only', () => {
    const settings = parseWebhookSettings(container.args?.slice(1) ?? [], envOf(container));
    expect(settings.caBundleFile).toBe(`${settings.tlsCertDir}/ca.crt`);
    const keyFile = settings.reportKeyFile ?? '';
    const mount = (container.volumeMounts ?? []).find((m) => keyFile.startsWith(`${m.mountPath}/`));
    expect(mount).toMatchObject({ readOnly: true });
    expect(mount?.subPath).toBeUndefined();
    const volume = (pod.spec.volumes ?? []).find((v) => v.name === mount?.name) as { secret?: { secretName: string; optional?: boolean } } | undefined;
    expect(volume?.secret).toMatchObject({ secretName: 'premigration-hooks-report-key', optional: true });
    // Never committed: a shared HMAC key in the manifests would be public.
    expect(all(objects, 'Secret')).toEqual([]);
  });

  it('HA: replicas exceed the PDB\'s minAvailable (a PDB with one replica blocks node drains), rollouts keep capacity', () => {
    const replicas = at<number>(deployment, 'spec', 'replicas');
    expect(replicas).toBeGreaterThanOrEqual(2);
    expect(at<number>(one(objects, 'PodDisruptionBudget'), 'spec', 'minAvailable')).toBeLessThan(replicas);
    expect(at(deployment, 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable')).toBe(0);
  });

  it('probes: liveness /healthz and readiness /readyz over HTTPS on the https port', () => {
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
  });

  it('restricted securityContext, read-only root filesystem, resources set', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.resources?.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(container.resources?.limits?.memory).toEqual(expect.any(String));
    if (overlay === 'openshift') {
      // restricted-v2 assigns these from the namespace's range.
      for (const f of ['runAsUser', 'runAsGroup', 'fsGroup']) expect(pod.spec.securityContext?.[f]).toBeUndefined();
    } else {
      expect(pod.spec.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
    }
  });

  it('RBAC is read-only and minimal: list/watch pods, nodes, quotas, limit ranges and namespaces cluster-wide, get/list/watch kubevirts in KubeVirt\'s namespace', () => {
    const sa = one(objects, 'ServiceAccount');
    expect(pod.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(at(one(objects, 'ClusterRole', 'premigration-hooks-webhook'), 'rules')).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
    expect(at(one(objects, 'ClusterRole', 'premigration-hooks-cluster-reader'), 'rules'))
      .toEqual([{ apiGroups: [''], resources: ['nodes', 'resourcequotas', 'limitranges', 'namespaces'], verbs: ['list', 'watch'] }]);
    // The SiteHook roles (component site-hooks) are docs/site-hooks.md's; the webhook's own are these two.
    expect(all(objects, 'ClusterRole').filter((r) => r.metadata.labels?.['app.kubernetes.io/component'] !== 'site-hooks')).toHaveLength(2);
    expect(at(one(objects, 'Role'), 'rules')).toEqual([{ apiGroups: ['kubevirt.io'], resources: ['kubevirts'], verbs: ['get', 'list', 'watch'] }]);
    for (const binding of [...all(objects, 'ClusterRoleBinding'), one(objects, 'RoleBinding')]) {
      expect(at(binding, 'subjects')).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
      const role = one(objects, at(binding, 'roleRef', 'kind'), at(binding, 'roleRef', 'name'));
      if (binding.kind === 'RoleBinding') expect(role.metadata.namespace).toBe(binding.metadata.namespace);
    }
  });
});

describe('overlay prometheus: monitoring objects', () => {
  const objects = buildOverlay('prometheus');

  it('the ServiceMonitor selects the metrics Service and scrapes its named metrics port', () => {
    const sm = one(objects, 'ServiceMonitor');
    const svc = one(objects, 'Service', 'premigration-hooks-webhook-metrics');
    expect(selects(at(sm, 'spec', 'selector', 'matchLabels'), svc.metadata.labels)).toBe(true);
    expect(selects(at(sm, 'spec', 'selector', 'matchLabels'), one(objects, 'Service', 'premigration-hooks-webhook').metadata.labels)).toBe(false);
    expect(at(sm, 'spec', 'namespaceSelector', 'matchNames')).toEqual([svc.metadata.namespace]);
    const portNames = at<{ name: string }[]>(svc, 'spec', 'ports').map((p) => p.name);
    expect(at<{ port: string }[]>(sm, 'spec', 'endpoints').map((e) => e.port)).toEqual(['metrics']);
    expect(portNames).toContain('metrics');
  });

  it('alerts on the apiserver\'s view use our webhook\'s name, and "down" uses the ServiceMonitor\'s job', () => {
    const rules = at<{ rules: { alert: string; expr: string }[] }[]>(one(objects, 'PrometheusRule'), 'spec', 'groups').flatMap((g) => g.rules);
    const webhookName = theWebhook(objects).name;
    const apiserverExprs = rules.filter((r) => r.expr.includes('apiserver_admission_webhook_'));
    expect(apiserverExprs.length).toBe(2);
    for (const r of apiserverExprs) {
      const names = [...r.expr.matchAll(/name="([^"]+)"/g)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(0);
      expect(new Set(names)).toEqual(new Set([webhookName]));
    }
    const down = rules.find((r) => r.alert === 'PremigrationHooksWebhookDown');
    expect(down?.expr).toContain(`job="${one(objects, 'Service', 'premigration-hooks-webhook-metrics').metadata.name}"`);
  });

  it('the other overlays carry no prometheus-operator objects (they need its CRDs)', () => {
    for (const overlay of ['default', 'openshift', 'hco'] as const) {
      expect(buildOverlay(overlay).filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
    }
  });
});

describe('an admin\'s own overlay that sets the image', () => {
  it('rewrites PREMIGRATION_HOOKS_IMAGE with the container image (kustomize/base/kustomizeconfig.yaml)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'premigration-hooks-overlay-'));
    try {
      const base = path.relative(dir, path.join(REPO_ROOT, 'kustomize', 'overlays', 'prometheus'));
      const image = { name: 'premigration-hooks', newName: 'registry.example.com/acme/premigration-hooks', digest: `sha256:${'ab'.repeat(32)}` };
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${JSON.stringify(base)}]\nimages: [${JSON.stringify(image)}]\n`,
      );
      const built = buildKustomization(dir);
      const c = webhookContainer(one(built, 'Deployment'));
      expect(c.image).toBe(`${image.newName}@${image.digest}`);
      expect(containerEnv(built, c).PREMIGRATION_HOOKS_IMAGE).toBe(c.image);
      expect(containerEnv(built, c).PREMIGRATION_HOOKS_KUBEVIRT_NAMESPACE).toBe('kubevirt');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
