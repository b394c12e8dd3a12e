/**
 * `premigration-hooks healthcheck --socket <path> [--timeout-ms N]`: exit 0 when the hook server
 * answers GET /healthz with 200 on its unix socket, else 1. Used as the startup probe of the
 * injected sidecar: it proves the server is listening, which a file-exists test cannot.
 */
import { request } from 'node:http';
import { parseFlags, parsePositiveInt, reportUsageError, usageText, type FlagTable } from '../../shared/flags.js';
import { InputError } from '../../core/errors.js';

const FLAGS: FlagTable = {
  socket: { value: '<path>', help: 'the hook server\'s unix socket (required)' },
  'timeout-ms': { value: '<n>', help: 'give up after this long (default 2000)' },
};

const usage = (): string => usageText('healthcheck', '--socket <path> [--timeout-ms <n>]', FLAGS, 'Exit 0 when the hook server answers GET /healthz with 200 on its unix socket, else 1.');

function parseHealthcheckFlags(argv: string[]): { socket: string; timeoutMs: number } | 'help' {
  const { values, help } = parseFlags(FLAGS, argv);
  if (help) return 'help';
  const socket = values.get('socket');
  if (!socket) throw new InputError('--socket <path> is required');
  return { socket, timeoutMs: parsePositiveInt('--timeout-ms', values.get('timeout-ms'), 2000) };
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
    const parsed = parseHealthcheckFlags(argv);
    if (parsed === 'help') {
      process.stdout.write(usage());
      return 0;
    }
    args = parsed;
  } catch (err) {
    return reportUsageError('healthcheck', err);
  }
  const { ok, detail } = await probe(args.socket, args.timeoutMs);
  if (!ok) process.stderr.write(`premigration-hooks healthcheck: ${args.socket}: ${detail}\n`);
  return ok ? 0 : 1;
}
