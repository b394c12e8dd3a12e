/**
 * The real built webhook (`node dist/src/cli/main.js webhook`) as a child process on loopback, with
 * dev TLS, the gate forced on and hook reports enabled, plus what the hook-report tests need
 * from it: its /mutate, its metrics and its JSON log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { eventually, freePort, httpsRequest, stopChild } from './net.js';

export const CLI = path.join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
export const REPORT_KEY = 'report-key-for-tests-only-0123456789abcdef0123456789abcdef';

export interface WebhookProcess {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  /** /report listens here, not on the admission port. */
  reportPort: number;
  keyFile: string;
  logs(): Array<Record<string, unknown>>;
  metrics(): Promise<string>;
}

export async function startWebhookProcess(dir: string, opts: { image: string; extra?: string[] }): Promise<WebhookProcess> {
  const [port, metricsPort, reportPort] = [await freePort(), await freePort(), await freePort()];
  const keyFile = path.join(dir, 'report.key');
  // As `kubectl create secret generic --from-file` would leave it: with a trailing newline.
  writeFileSync(keyFile, `${REPORT_KEY}\n`, { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [
      CLI, 'webhook', '--dev-self-signed', '--gate-source', 'always', '--bind-address', '127.0.0.1',
      '--port', String(port), '--metrics-port', String(metricsPort), '--image', opts.image, '--log-level', 'info',
      '--report-port', String(reportPort), '--report-url', `https://127.0.0.1:${reportPort}/report`, '--report-key-file', keyFile,
      // No cluster here: nothing to learn versions or namespace limits from.
      '--sidecar-mode', 'native', '--namespace-limits', 'ignore', ...(opts.extra ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (stderr += s));
  const logs = (): Array<Record<string, unknown>> =>
    stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  try {
    await eventually('webhook /readyz', async () => ((await httpsRequest(port, 'GET', '/readyz')).status === 200 ? true : undefined), 80);
  } catch (err) {
    // Never leave our child running when the test cannot use it.
    await stopChild(child);
    throw new Error(`${(err as Error).message}\nwebhook stderr:\n${stderr}`);
  }
  return {
    child,
    port,
    metricsPort,
    reportPort,
    keyFile,
    logs,
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
  };
}
