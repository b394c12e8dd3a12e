/**
 * `premigration-hooks webhook --gate-source=kubevirt --watch-target-pods` end to end in-process,
 * against the local list+watch TEST DOUBLE of kube-apiserver (no kube-apiserver on this machine),
 * reached through a real kubeconfig file passed with --kubeconfig: not ready until the KubeVirt
 * CR list succeeds (the first lists fail), then ready, injecting, and exporting the gate series;
 * the sidecar shape follows the nodes it lists, and a quota that appears stops injection there.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/webhook/main.js';
import { GATE_NAME } from '../../src/webhook/admission/mode.js';
import { FakeApiServer, KUBEVIRTS, NODES, RESOURCEQUOTAS, waitFor } from '../support/fake-apiserver.js';
import { freePort, httpsText } from '../support/net.js';

test('follows the KubeVirt CR from a kubeconfig (kube-apiserver test double): unready until listed, then injects and exports the gate', async () => {
  const api = new FakeApiServer();
  await api.start();
  const dir = mkdtempSync(join(os.tmpdir(), 'premigration-hooks-kubeconfig-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig()); // JSON is YAML
    api.create(KUBEVIRTS, {
      metadata: { name: 'kubevirt', namespace: 'kubevirt' },
      spec: { configuration: { developerConfiguration: { featureGates: [GATE_NAME] } } },
      status: { phase: 'Deployed', observedKubeVirtVersion: 'v1.7.2' },
    });
    api.failNext('list', 500, 1000); // until cleared below
    const [port, metricsPort] = [await freePort(), await freePort()];
    const done = main([
      '--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0', '--gate-source', 'kubevirt',
      '--kubeconfig', kubeconfig, '--kubevirt-namespace', 'kubevirt', '--watch-target-pods',
      '--port', String(port), '--metrics-port', String(metricsPort), '--report-port', String(await freePort()), '--bind-address', '127.0.0.1',
      '--shutdown-delay-ms', '0', '--log-level', 'silent',
    ]);
    await waitFor(() => api.countRequests({ plural: 'kubevirts', watch: false }) >= 1, 'first KubeVirt list');
    // Every list fails so far: served and alive, but not ready.
    expect((await httpsText(port, '/healthz')).status).toBe(200);
    expect((await httpsText(port, '/readyz')).status).toBe(503);
    api.clearFailures();

    let ready = 0;
    const deadline = Date.now() + 20_000;
    while (ready !== 200 && Date.now() < deadline) {
      ready = await httpsText(port, '/readyz').then((r) => r.status, () => 0);
      if (ready !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(ready).toBe(200);
    const lists = api.countRequests({ plural: 'kubevirts', watch: false });
    expect(lists).toBeGreaterThanOrEqual(2);
    await waitFor(() => api.openWatches('pods') === 1, 'target-pod watch open');

    const review = readFileSync(join(process.cwd(), 'test/golden/webhook/kv17-dedicated-cpu/review.json'));
    const res = await httpsText(port, '/mutate', review);
    expect(JSON.parse(res.text).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    // No nodes listed yet: --sidecar-mode auto chose the classic shape (a regular container).
    const shape = (text: string): string[] => (JSON.parse(Buffer.from(JSON.parse(text).response.patch as string, 'base64').toString('utf8')) as { path: string }[]).map((op) => op.path);
    expect(shape(res.text)).toContain('/spec/containers/-');

    // Every kubelet and the apiserver (the double answers v1.30.4) accept native sidecars: native.
    api.create(NODES, { metadata: { name: 'node-a' }, status: { nodeInfo: { kubeletVersion: 'v1.30.4' } } });
    let native = false;
    for (let i = 0; i < 200 && !native; i++) {
      native = !shape((await httpsText(port, '/mutate', review)).text).includes('/spec/containers/-');
      if (!native) await new Promise((r) => setTimeout(r, 20));
    }
    expect(native).toBe(true);

    // A quota sized to the VM appears in its namespace: the next target pod is left alone.
    const pod = (JSON.parse(review.toString()) as { request: { namespace: string } }).request;
    api.create(RESOURCEQUOTAS, { metadata: { name: 'vm-sized', namespace: pod.namespace }, spec: { hard: { 'requests.memory': '8598Mi' } }, status: { used: {} } });
    let skipped = false;
    for (let i = 0; i < 200 && !skipped; i++) {
      skipped = JSON.parse((await httpsText(port, '/mutate', review)).text).response.patch === undefined;
      if (!skipped) await new Promise((r) => setTimeout(r, 20));
    }
    expect(skipped).toBe(true);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^premigration_hooks_admission_requests_total\{result="skipped",reason="quota-exceeded",dry_run="false"\} 1$/m);
    for (const line of [
      'premigration_hooks_mode{mode="inject"} 1',
      'premigration_hooks_mode{mode="off"} 0',
      'premigration_hooks_feature_gate_enabled 1',
      'premigration_hooks_kubevirt_info{version="v1.7.2"} 1',
      // Every failed list was restarted (with backoff), and the last one succeeded.
      `premigration_hooks_watch_restarts_total{resource="kubevirts"} ${lists - 1}`,
      'premigration_hooks_watch_synced{resource="kubevirts"} 1',
      'premigration_hooks_watch_synced{resource="pods"} 1',
      'premigration_hooks_watch_synced{resource="nodes"} 1',
      'premigration_hooks_watch_synced{resource="resourcequotas"} 1',
      'premigration_hooks_watch_synced{resource="limitranges"} 1',
      'premigration_hooks_escaped_target_pods_total 0',
    ]) {
      expect(metrics.split('\n')).toContain(line);
    }

    process.emit('SIGTERM');
    expect(await done).toBe(0);
    await waitFor(() => api.openWatches() === 0, 'both watches closed by the shutdown');
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test('an unreadable --kubeconfig is a startup error (exit code 2), not a crash loop of retries', async () => {
  expect(await main(['--dev-self-signed', '--image', 'x', '--gate-source', 'kubevirt', '--kubeconfig', '/nonexistent/kubeconfig', '--log-level', 'silent'])).toBe(2);
});
