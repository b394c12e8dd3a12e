/**
 * `premigration-hooks healthcheck --socket <path> [--timeout-ms N]`: exit 0 when the hook server
 * answers GET /healthz with 200 on its unix socket, else 1. Used as the startup probe of the
 * injected sidecar: it proves the server is listening, which a file-exists test cannot.
 */
import { request } from 'node:http';
import { parsePositiveInt } from '../../shared/config.js';
import { InputError } from '../../core/errors.js';

function parseArgs(argv: string[]): { socket: string; timeoutMs: number } {
  let socket: string | undefined;
  let timeout: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--socket') socket = argv[++i];
    else if (arg === '--timeout-ms') timeout = argv[++i];
    else throw new InputError(`unknown argument "${arg}"`);
  }
  if (!socket) throw new InputError('--socket <path> is required');
  return { socket, timeoutMs: parsePositiveInt('--timeout-ms', timeout, 2000) };
}

export function probe(socketPath: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/healthz', method: 'GET', timeout: timeoutMs, headers: { Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, detail: `HTTP ${res.statusCode}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
    req.end();
  });
}

export async function main(argv: string[]): Promise<number> {
  let args: { socket: string; timeoutMs: number };
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`premigration-hooks healthcheck: ${(err as Error).message}\n`);
    return 2;
  }
  const { ok, detail } = await probe(args.socket, args.timeoutMs);
  if (!ok) process.stderr.write(`premigration-hooks healthcheck: ${args.socket}: ${detail}\n`);
  return ok ? 0 : 1;
}
