/**
 * The probe the webhook injects, run for real: the exact command of the patch (the static hook
 * client in probe mode, its path mapped from the image's /app to this checkout) against a real
 * `serve` on a unix socket. It fails while nothing listens and passes once the server answers.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { inject } from '../../src/webhook/admission/inject.js';
import { SOCKET_PATH } from '../../src/webhook/admission/names.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { IMAGE_APP_DIR } from '../../src/shared/client-binary.js';
import { fixturePod } from '../support/injected-pods.js';
import { CLIENT, killStarted, removeDir, REPO, requireBuilt, startServer, stopServer, tempDir } from './server-harness.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

afterEach(killStarted);

function injectedProbe(sidecar: 'native' | 'classic'): string[] {
  const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'r/p:1']).inject;
  const r = inject(fixturePod('kv17-dedicated-cpu'), settings, { mode: 'inject', hooks: ['cpu-dedicated'], sidecar });
  if (r.kind !== 'patch') throw new Error('expected a patch');
  const server = (r.patch as Json[]).find((op) => /ontainers\/-$/.test(op.path as string) && op.value.name === 'premigration-hooks')?.value as Json;
  return ((server.startupProbe ?? server.readinessProbe) as Json).exec.command as string[];
}

test.each(['native', 'classic'] as const)('%s: the injected exec probe fails before the server listens and passes once it answers', async (sidecar) => {
  requireBuilt(CLIENT);
  const command = injectedProbe(sidecar);
  expect(command[0]?.startsWith(`${IMAGE_APP_DIR}/`)).toBe(true);
  const dir = tempDir('injected-probe-');
  try {
    const socket = path.join(dir, 'hooks.sock');
    // In the pod the socket is at SOCKET_PATH; here at a temporary path. The binary is this checkout's.
    const local = [path.join(REPO, path.relative(IMAGE_APP_DIR, command[0] as string)), ...command.slice(1).map((a) => (a === SOCKET_PATH ? socket : a))];
    expect(local[0]).toBe(CLIENT);
    const before = spawnSync(local[0] as string, local.slice(1), { encoding: 'utf8', timeout: 5000 });
    expect(before.status).toBe(1);
    expect(before.stderr).toMatch(/probe/);
    const server = await startServer({ dir, socket });
    const t0 = process.hrtime.bigint();
    const after = spawnSync(local[0] as string, local.slice(1), { encoding: 'utf8', timeout: 5000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(after.status).toBe(0);
    expect(ms).toBeLessThan(1000); // no Node start per probe
    await stopServer(server);
  } finally {
    removeDir(dir);
  }
});
