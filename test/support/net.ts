/**
 * Small helpers for tests that run real processes on loopback.
 */
import type { ChildProcess } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Poll `probe` until it returns a value, at most `attempts` times, `everyMs` apart. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, attempts = 60, everyMs = 250): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`gave up waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

export interface HttpsReply {
  status: number;
  json: unknown;
}

/** HTTPS to 127.0.0.1; `ca` verifies the server, otherwise verification is off (dev certificates). */
export function httpsRequest(port: number, method: string, urlPath: string, opts: { body?: unknown; headers?: Record<string, string>; ca?: string | Buffer } = {}): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
        agent: false,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) } : {}), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** GET (or POST `body` as JSON) over HTTPS to 127.0.0.1 without verification; the raw reply text. */
export function httpsText(port: number, urlPath: string, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, method: body ? 'POST' : 'GET', rejectUnauthorized: false, agent: false, headers: body ? { 'Content-Type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** SIGTERM by PID, SIGKILL after 5 s; resolves when the child exited. */
export function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** One sample from a Prometheus text exposition, by its full `name{labels}` (labels as printed). */
export function sample(exposition: string, series: string): number | undefined {
  const hit = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return hit === undefined ? undefined : Number(hit.slice(series.length + 1));
}
