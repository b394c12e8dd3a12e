/**
 * The webhook in its shipped memory limit under many concurrent maximum-size AdmissionReviews
 * (issue 12, item 5): the built webhook runs as a child process inside a real memory cgroup
 * (v2 memory.max or v1 memory.limit_in_bytes, root only) whose limit is read from
 * manifests/deployment.yaml. 32 clients post reviews of --max-body-bytes for 20 s, in the
 * shapes that cost most heap per byte once parsed: a million-key annotation map, and the most
 * objects the decoder lets through followed by boxed numbers and one-character strings. The
 * process must survive (no OOM kill, still answering), every answer must be a 200 or a 503
 * (the concurrency bound, which lets failurePolicy apply), and a normal review must still be
 * injected afterwards. The measured peak is printed for docs/webhook.md.
 *
 * No skips: without root or a memory cgroup the suite fails with the reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/webhook/config/settings.js';
import { MAX_JSON_CONTAINERS } from '../../src/webhook/http/body.js';
import { createCgroup, type Cgroup } from '../../bench/cgroup.js';
import { parseQuantity } from '../../src/core/pod/quantity.js';
import { CLI } from '../support/webhook-process.js';
import { eventually, freePort, stopChild } from '../support/net.js';
import { fixturePod, podReview, type Json } from '../support/injected-pods.js';
import { requireBuilt } from '../integration/server-harness.js';

const CLIENTS = 32;
const SECONDS = 20;

function shippedLimit(): string {
  const docs = readFileSync(path.join(process.cwd(), 'manifests/deployment.yaml'), 'utf8');
  const d = parse(docs) as Json;
  return d.spec.template.spec.containers.find((c: Json) => c.name === 'webhook').resources.limits.memory as string;
}

/** A target-pod review of exactly `size` bytes, padded in one of the costly shapes. */
function maxReview(shape: 'annotations' | 'objects', size: number): Buffer {
  const review = podReview(fixturePod('kv17-dedicated-cpu'));
  const pod = review.request.object as Json;
  if (shape === 'annotations') {
    // Distinct keys: a dictionary-mode object of ~117k properties.
    const fixed = Buffer.byteLength(JSON.stringify(review));
    const n = Math.floor((size - fixed - 64) / 29);
    for (let i = 0; i < n; i++) pod.metadata.annotations[`a${String(i).padStart(7, '0')}.example.com/k`] = 'v';
    return Buffer.from(JSON.stringify(review));
  }
  pod.metadata.annotations['example.com/pad'] = 'PAD';
  const text = JSON.stringify(review);
  const objects = Array(MAX_JSON_CONTAINERS - 500).fill('{}').join(',');
  const room = size - Buffer.byteLength(text) - objects.length - 64;
  const mixed = Array(Math.floor(room / 8)).fill('0.5,"a"').join(',');
  return Buffer.from(text.replace('"PAD"', `[${objects},${mixed}]`));
}

describe('the webhook under its shipped memory limit', () => {
  let group: Cgroup | undefined;
  let child: ChildProcess;
  let port: number;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const limit = shippedLimit();
  const limitBytes = Number((parseQuantity(limit) ?? 0n) / 1_000_000_000n);

  beforeAll(async () => {
    requireBuilt(CLI);
    if (process.getuid?.() !== 0) throw new Error('this suite needs root (it creates a memory cgroup)');
    group = createCgroup(`premigration-hooks-mem-${process.pid}`, { memoryBytes: limitBytes });
    port = await freePort();
    const [metricsPort, reportPort] = [await freePort(), await freePort()];
    const args = [CLI, 'webhook', '--dev-self-signed', '--gate-source', 'always', '--bind-address', '127.0.0.1', '--port', String(port),
      '--metrics-port', String(metricsPort), '--report-port', String(reportPort), '--image', 'premigration-hooks:mem-test', '--log-level', 'error',
      // No cluster here: nothing to learn versions or namespace limits from.
      '--sidecar-mode', 'native', '--namespace-limits', 'ignore'];
    // The shell joins the cgroup, then becomes node: every byte node allocates is charged there.
    const [shell, ...shellArgs] = group.wrap([process.execPath, ...args]);
    child = spawn(shell as string, shellArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code, signal) => (exit = { code, signal }));
    await eventually('webhook ready', () => status('/readyz').then((s) => (s === 200 ? true : undefined)), 80);
  }, 60_000);

  afterAll(async () => {
    await stopChild(child);
    // The kernel empties the group a moment after its last process exits.
    for (let i = 0; group && i < 50; i++) {
      try {
        group.remove();
        group = undefined;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  const agent = new https.Agent({ keepAlive: true, maxSockets: CLIENTS, rejectUnauthorized: false });
  function status(p: string): Promise<number> {
    return new Promise((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, path: p, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
  }
  function post(body: Buffer): Promise<{ status: number | string; json?: Json }> {
    return new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Json | undefined;
          try { json = JSON.parse(text) as Json; } catch { json = undefined; }
          resolve({ status: res.statusCode ?? 0, ...(json ? { json } : {}) });
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? 'error' }));
      req.end(body);
    });
  }

  test(`${CLIENTS} clients posting maximum-size reviews for ${SECONDS} s: it survives, answers 200 or 503, and still injects`, async () => {
    const bodies = [maxReview('annotations', DEFAULT_MAX_BODY_BYTES), maxReview('objects', DEFAULT_MAX_BODY_BYTES)];
    for (const b of bodies) {
      expect(b.length).toBeLessThanOrEqual(DEFAULT_MAX_BODY_BYTES);
      expect(b.length).toBeGreaterThan(DEFAULT_MAX_BODY_BYTES - 64 * 1024);
    }
    const counts: Record<string, number> = {};
    const end = Date.now() + SECONDS * 1000;
    let injectedUnderLoad = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
      while (Date.now() < end && !exit) {
        const r = await post(bodies[i % 2] as Buffer);
        counts[String(r.status)] = (counts[String(r.status)] ?? 0) + 1;
        if (r.status === 200 && r.json?.response?.patch) injectedUnderLoad++;
      }
    }));
    if (!group) throw new Error('no cgroup');
    const peak = group.peakBytes();
    process.stderr.write(`webhook memory: limit ${limit}, peak ${(peak / 1048576).toFixed(1)} MiB, answers ${JSON.stringify(counts)}\n`);
    expect(exit).toBeUndefined();
    expect(group.oomKills()).toBe(0);
    expect(injectedUnderLoad).toBeGreaterThan(0);
    // 503 before the body was read closes the connection; a client still writing may see EPIPE
    // or a reset instead of the 503 (the apiserver then also applies failurePolicy). Nothing else.
    const other = Object.keys(counts).filter((k) => !['200', '503', 'EPIPE', 'ECONNRESET'].includes(k));
    expect(other).toEqual([]);
    expect((counts['200'] ?? 0) + (counts['503'] ?? 0)).toBeGreaterThan(((counts.EPIPE ?? 0) + (counts.ECONNRESET ?? 0)) * 10);
    expect(peak).toBeLessThan(limitBytes);
    // A normal review right after: injected, quickly.
    const started = Date.now();
    const normal = await post(Buffer.from(JSON.stringify(podReview(fixturePod('kv17-dedicated-cpu')))));
    expect(normal.status).toBe(200);
    expect(normal.json?.response?.patch).toBeDefined();
    expect(Date.now() - started).toBeLessThan(3000);
    agent.destroy();
  }, 90_000);
});
