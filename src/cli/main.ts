#!/usr/bin/env node
/**
 * One entry point: `premigration-hooks <command>`. Each command lives in its own module,
 * loaded on demand so that e.g. `mutate` never pays for the webhook's Kubernetes client.
 */
import { PRODUCT, VERSION } from '../shared/version.js';

type Command = { main(argv: string[]): Promise<number> };

/**
 * The hook server as one bundled module tree when the build made one (`npm run build:bundle`:
 * under the sidecar's 100m CPU limit, loading one file instead of ~35 starts it ~15 % sooner,
 * bench/RESULTS.md), else the modules as compiled.
 */
const SERVE_BUNDLE = '../server/bundle/main.js';
async function loadServe(): Promise<Command> {
  try {
    return (await import(SERVE_BUNDLE)) as Command;
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code !== 'ERR_MODULE_NOT_FOUND' || !String((err as Error).message).includes('bundle')) throw err;
    return import('../server/main.js');
  }
}

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  mutate: { summary: 'rewrite a domain XML for a migration target (stdin → stdout)', load: () => import('./commands/mutate.js') },
  explain: { summary: 'show what mutate would change, and why', load: () => import('./commands/explain.js') },
  demo: { summary: 'the target-side rewrite on this machine, no cluster needed', load: () => import('./commands/demo.js') },
  healthcheck: { summary: 'probe a hook server\'s socket (exit 0 when it answers)', load: () => import('./commands/healthcheck.js') },
  serve: { summary: 'the in-pod hook server (the injected sidecar)', load: loadServe },
  webhook: { summary: 'the mutating admission webhook', load: () => import('../webhook/main.js') },
};

const usage = [
  `usage: ${PRODUCT} <command> [flags]`,
  '',
  ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`),
  `  ${'help'.padEnd(12)}help <command> prints that command's flags`,
  `  ${'version'.padEnd(12)}print the version`,
  '',
].join('\n');

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(usage);
    return 0;
  }
  if (name === 'help') {
    const topic = commands[rest[0] as string];
    if (!topic) {
      process.stderr.write(`${PRODUCT}: unknown command "${rest[0]}"; commands: ${Object.keys(commands).join(', ')}\n`);
      return 2;
    }
    return (await topic.load()).main(['--help']);
  }
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    process.stderr.write(name === undefined ? usage : `${PRODUCT}: unknown command "${name}"; commands: ${Object.keys(commands).join(', ')} (${PRODUCT} --help)\n`);
    return 2;
  }
  return (await command.load()).main(rest);
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
