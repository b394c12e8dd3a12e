#!/usr/bin/env node
/**
 * One entry point: `premigration-hooks <command>`. Each command lives in its own module,
 * loaded on demand so that e.g. `mutate` never pays for express or the Kubernetes client.
 */
import { PRODUCT, VERSION } from '../shared/config.js';

const commands: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  mutate: () => import('./commands/mutate.js'),
  explain: () => import('./commands/explain.js'),
  demo: () => import('./commands/demo.js'),
  healthcheck: () => import('./commands/healthcheck.js'),
  serve: () => import('../server/main.js'),
  webhook: () => import('../webhook/main.js'),
};

const usage = `usage: ${PRODUCT} <${Object.keys(commands).join('|')}> [flags]   (${PRODUCT} <command> --help)`;

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = name ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`${usage}\n`);
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  const mod = await load();
  return mod.main(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${PRODUCT}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
