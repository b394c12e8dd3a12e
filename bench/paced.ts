/**
 * An open-loop, evenly paced HTTPS load: one POST every 1/rate seconds, whether or not earlier
 * ones have answered, over keep-alive connections, the way an apiserver calls a webhook while
 * pods are created at a steady rate.
 *
 * Why not autocannon's `overallRate` for this: autocannon gives each connection a per-second
 * budget and spends it back to back at the start of every second, so "200 req/s" over 8
 * connections is 8-way saturation for a fraction of each second and idle for the rest: it
 * measures burst latency, not latency at a steady rate. autocannon stays the tool for
 * saturation (bench/webhook.ts).
 */
import https from 'node:https';
import { stats, type Stats } from './lib.js';

export interface PacedResult {
  /** Per-request latency, ms: request created (at its scheduled time) → response fully read. */
  latency: Stats;
  times: number[];
  /** Requests answered 2xx per second over the run. */
  throughput: number;
  requests: number;
  errors: number;
  non2xx: number;
  seconds: number;
  /** How late the scheduler itself fired, ms (p99): above ~2 ms the generator, not the server, was starved. */
  schedulerLagP99: number;
}

function post(agent: https.Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `rate` POSTs per second for `seconds`, after opening `connections` keep-alive TLS connections. */
export async function pacedLoad(port: number, path: string, body: string, opts: { rate: number; seconds: number; connections: number }): Promise<PacedResult> {
  // Sockets beyond `connections` open on demand when answers lag, as an apiserver's would.
  const agent = new https.Agent({ keepAlive: true, maxSockets: Math.max(opts.connections, 64), rejectUnauthorized: false });
  try {
    // Open the connections (and pay their TLS handshakes) before the clock starts.
    await Promise.all(Array.from({ length: opts.connections }, () => post(agent, port, path, body)));
    const total = Math.max(1, Math.round(opts.rate * opts.seconds));
    const interval = 1000 / opts.rate;
    const times: number[] = [];
    const lags: number[] = [];
    let errors = 0;
    let non2xx = 0;
    const pending: Array<Promise<void>> = [];
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      lags.push(t0 - due);
      pending.push(
        post(agent, port, path, body).then(
          (status) => {
            if (status >= 200 && status < 300) times.push(performance.now() - t0);
            else non2xx++;
          },
          () => {
            errors++;
          },
        ),
      );
    }
    await Promise.all(pending);
    const seconds = (performance.now() - start) / 1000;
    if (times.length === 0) throw new Error(`no successful answer under load (errors ${errors}, non-2xx ${non2xx})`);
    return { latency: stats(times), times, throughput: times.length / seconds, requests: times.length, errors, non2xx, seconds, schedulerLagP99: stats(lags).p99 };
  } finally {
    agent.destroy();
  }
}
