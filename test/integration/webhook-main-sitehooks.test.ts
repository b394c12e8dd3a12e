/**
 * `premigration-hooks webhook` in-process against the list+watch TEST DOUBLE of kube-apiserver
 * (no kube-apiserver on this machine), with SiteHooks stored in it: the watch writes
 * status.conditions once per generation (a second replica's write would be refused by
 * resourceVersion), a valid SiteHook selecting the pod makes coexist mode (KubeVirt 1.9) inject
 * it as site:<name>, a non-matching one does not, a namespaceSelector selects by the labels of
 * the namespaces the watch has listed (and follows a label change), and /validate-sitehook denies
 * a bad SiteHook.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/webhook/main.js';
import { GATE_NAME } from '../../src/webhook/admission/mode.js';
import { FakeApiServer, KUBEVIRTS, NAMESPACES, SITEHOOKS, waitFor } from '../support/fake-apiserver.js';
import { freePort, httpsText } from '../support/net.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const siteHook = (name: string, generation: number, spec: Json): Json => ({ metadata: { name, generation }, spec });
const valid = (match: string, generation = 1): Json =>
  siteHook('tuning', generation, { selector: { matchLabels: { 'vm.kubevirt.io/name': match } }, edits: [{ select: 'cputune/shares', remove: true }] });

test('SiteHooks from the API (test double): status once per generation, coexist injects only for a matching one, bad ones denied at admission', async () => {
  const api = new FakeApiServer();
  await api.start();
  const dir = mkdtempSync(join(os.tmpdir(), 'premigration-hooks-sitehooks-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
    api.create(KUBEVIRTS, {
      metadata: { name: 'kubevirt', namespace: 'kubevirt' },
      spec: { configuration: { developerConfiguration: { featureGates: [GATE_NAME] } } },
      status: { phase: 'Deployed', observedKubeVirtVersion: 'v1.9.0' },
    });
    api.create(SITEHOOKS, valid('rt-guest'));
    // The review's namespace, and another one.
    api.create(NAMESPACES, { metadata: { name: 'telco', labels: { tier: 'gold', 'kubernetes.io/metadata.name': 'telco' } } });
    api.create(NAMESPACES, { metadata: { name: 'batch', labels: { tier: 'bronze', 'kubernetes.io/metadata.name': 'batch' } } });
    api.create(SITEHOOKS, siteHook('evil', 1, { edits: [{ select: 'seclabel/@type', set: 'none' }] }));
    const [port, metricsPort] = [await freePort(), await freePort()];
    const done = main([
      '--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0', '--gate-source', 'kubevirt',
      '--kubeconfig', kubeconfig, '--kubevirt-namespace', 'kubevirt',
      // Only disk-namespace, which does not apply to this pod (no decentralized target): the SiteHook alone decides.
      '--hooks', 'disk-namespace',
      '--port', String(port), '--metrics-port', String(metricsPort), '--report-port', String(await freePort()), '--bind-address', '127.0.0.1',
      '--shutdown-delay-ms', '0', '--log-level', 'silent',
    ]);
    await waitFor(() => api.statusWrites.filter((w) => w.stored).length === 2, 'both SiteHooks got a status');
    const status = (name: string): Json => api.get(SITEHOOKS, '', name)?.status as Json;
    expect(status('tuning')).toMatchObject({ observedGeneration: 1, conditions: [{ type: 'Accepted', status: 'True', reason: 'Valid' }] });
    expect(status('evil')).toMatchObject({ observedGeneration: 1, conditions: [{ type: 'Accepted', status: 'False', reason: 'Invalid' }] });
    expect(status('evil').conditions[0].message).toContain('seclabel/@type is a forbidden target');

    const review = readFileSync(join(process.cwd(), 'test/golden/webhook/kv110-dedicated-cpu/review.json'));
    const mutate = async (): Promise<Json> => JSON.parse((await httpsText(port, '/mutate', review)).text) as Json;
    let injected: Json = {};
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      injected = await mutate();
      if (injected.response?.patch) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const patch = JSON.parse(Buffer.from(injected.response.patch as string, 'base64').toString('utf8')) as Json[];
    const marker = JSON.parse(patch.find((op) => String(op.path).includes('injected'))!.value as string) as Json;
    expect(marker).toMatchObject({ mode: 'coexist', hooks: ['site:tuning'] });
    expect(marker.siteHooks).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The SiteHook no longer selects the pod: coexist mode injects nothing.
    const writes = api.statusWrites.length;
    api.update(SITEHOOKS, { ...valid('someone-else', 2), status: status('tuning') });
    await waitFor(() => api.statusWrites.length > writes, 'status for generation 2');
    const until = Date.now() + 10_000;
    let skipped: Json = {};
    while (Date.now() < until) {
      skipped = await mutate();
      if (!skipped.response?.patch) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(skipped.response).toEqual({ uid: expect.any(String) as string, allowed: true });
    expect(status('tuning').observedGeneration).toBe(2);
    // Nothing rewrites a status its generation already has: no further writes arrive.
    const settled = api.statusWrites.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(api.statusWrites.length).toBe(settled);

    // A namespaceSelector (matchLabels and matchExpressions) on the namespace's labels.
    api.create(SITEHOOKS, siteHook('gold', 1, {
      namespaceSelector: { matchLabels: { tier: 'gold' }, matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] },
      edits: [{ select: 'cputune/shares', remove: true }],
    }));
    const inNamespace = (ns: string): Buffer => {
      const r = JSON.parse(review.toString('utf8')) as Json;
      r.request.namespace = ns;
      r.request.object.metadata.namespace = ns;
      return Buffer.from(JSON.stringify(r));
    };
    const mutateIn = async (ns: string): Promise<Json> => JSON.parse((await httpsText(port, '/mutate', inNamespace(ns))).text) as Json;
    let gold: Json = {};
    const goldDeadline = Date.now() + 10_000;
    while (Date.now() < goldDeadline) {
      gold = await mutateIn('telco');
      if (gold.response?.patch) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const goldPatch = JSON.parse(Buffer.from(gold.response.patch as string, 'base64').toString('utf8')) as Json[];
    expect(JSON.parse(goldPatch.find((op) => String(op.path).includes('injected'))!.value as string)).toMatchObject({ mode: 'coexist', hooks: ['site:gold'] });
    // The namespace watch has listed (telco matched): batch (tier bronze) and an unknown namespace are not selected.
    expect((await mutateIn('batch')).response).toEqual({ uid: expect.any(String) as string, allowed: true });
    expect((await mutateIn('nowhere')).response).toEqual({ uid: expect.any(String) as string, allowed: true });
    // A label change reaches admission through the watch.
    api.update(NAMESPACES, { metadata: { name: 'batch', labels: { tier: 'gold' } } });
    let relabelled: Json = {};
    const relabelDeadline = Date.now() + 10_000;
    while (Date.now() < relabelDeadline) {
      relabelled = await mutateIn('batch');
      if (relabelled.response?.patch) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(relabelled.response.patch).toEqual(expect.any(String));

    const bad = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', operation: 'CREATE', object: { apiVersion: 'premigration-hooks.kubevirt.io/v1alpha1', kind: 'SiteHook', metadata: { name: 'bad' }, spec: { edits: [{ select: 'devices//disk', remove: true }] } } } };
    const answer = JSON.parse((await httpsText(port, '/validate-sitehook', Buffer.from(JSON.stringify(bad)))).text) as Json;
    expect(answer.response).toMatchObject({ uid: 'x', allowed: false, status: { code: 422, reason: 'Invalid' } });
    expect(answer.response.status.message).toContain('select "devices//disk"');

    process.emit('SIGTERM');
    expect(await done).toBe(0);
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 40_000);
