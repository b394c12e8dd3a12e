/**
 * The one flag parser (src/shared/flags.ts), and every command of the built CLI behaving the
 * same for --help, `help <command>`, unknown flags and booleans.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REGISTRY } from '../../src/core/hooks/registry.js';
import { parseFlags, UsageError, type FlagTable } from '../../src/shared/flags.js';

const TABLE: FlagTable = {
  socket: { env: 'SOCKET', help: 'a path' },
  'dry-run': { env: 'DRY_RUN', boolean: true, help: 'a switch' },
};

describe('parseFlags', () => {
  test('a multiple flag keeps every value in order; its variable counts as one; values holds the last', () => {
    const t: FlagTable = { fact: { env: 'FACT', multiple: true, help: 'repeatable' } };
    const argv = parseFlags(t, ['--fact', 'a=1', '--fact=b=2'], { PREMIGRATION_HOOKS_FACT: 'c=3' });
    expect(argv.lists.get('fact')).toEqual(['a=1', 'b=2']);
    expect(argv.values.get('fact')).toBe('b=2');
    expect(parseFlags(t, [], { PREMIGRATION_HOOKS_FACT: 'c=3' }).lists.get('fact')).toEqual(['c=3']);
    expect(parseFlags(t, []).lists.has('fact')).toBe(false);
  });

  test('a flag beats its environment variable; an empty variable counts as unset', () => {
    expect(parseFlags(TABLE, ['--socket', '/a'], { PREMIGRATION_HOOKS_SOCKET: '/b' }).values.get('socket')).toBe('/a');
    expect(parseFlags(TABLE, [], { PREMIGRATION_HOOKS_SOCKET: '/b' }).values.get('socket')).toBe('/b');
    expect(parseFlags(TABLE, [], { PREMIGRATION_HOOKS_SOCKET: '' }).values.has('socket')).toBe(false);
  });

  test.each([
    [['--dry-run'], {}, 'true'],
    [['--dry-run=false'], {}, 'false'],
    [['--dry-run=1'], {}, 'true'],
    [['--dry-run=0'], {}, 'false'],
    [[], { PREMIGRATION_HOOKS_DRY_RUN: '1' }, 'true'],
    [[], { PREMIGRATION_HOOKS_DRY_RUN: 'false' }, 'false'],
    [['--dry-run=false'], { PREMIGRATION_HOOKS_DRY_RUN: 'true' }, 'false'],
  ])('boolean %j with env %j → %s', (argv, env, expected) => {
    expect(parseFlags(TABLE, argv, env).values.get('dry-run')).toBe(expected);
  });

  test.each([
    [['--sockett', '/a'], 'unknown flag --sockett'],
    [['--socket'], '--socket needs a value'],
    [['--socket', '--dry-run'], '--socket needs a value (to pass one that starts with "-", write --socket=<value>)'],
    [['extra'], 'unexpected argument "extra"'],
    [['--dry-run=yes'], '--dry-run must be true or false (or 1 or 0), got "yes"'],
  ])('%j → UsageError %s', (argv, message) => {
    expect(() => parseFlags(TABLE, argv)).toThrow(new UsageError(message));
  });

  test('a value may start with "-" when written with =, and -h is --help', () => {
    expect(parseFlags(TABLE, ['--socket=-odd']).values.get('socket')).toBe('-odd');
    expect(parseFlags(TABLE, ['-h']).help).toBe(true);
  });

  test('a boolean variable with a bad value is refused, not read as false', () => {
    expect(() => parseFlags(TABLE, [], { PREMIGRATION_HOOKS_DRY_RUN: 'yes' })).toThrow('--dry-run must be true or false');
  });
});

describe('every command of the built CLI', () => {
  const CLI = path.join(process.cwd(), 'dist/src/cli/main.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: '', timeout: 20_000 });
  const COMMANDS = ['mutate', 'explain', 'demo', 'healthcheck', 'serve', 'webhook'];

  test.each(COMMANDS)('%s --help and -h print the usage to stdout and exit 0; help %s prints the same', (command) => {
    const long = run(command, '--help');
    expect([long.status, long.stderr]).toEqual([0, '']);
    expect(long.stdout).toMatch(new RegExp(`^usage: premigration-hooks ${command}\\b`));
    expect(run(command, '-h').stdout).toBe(long.stdout);
    expect(run('help', command).stdout).toBe(long.stdout);
  });

  test.each(COMMANDS)('%s with an unknown flag: exit 2 and one line naming it', (command) => {
    const r = run(command, '--no-such-flag');
    expect([r.status, r.stdout, r.stderr]).toEqual([2, '', `premigration-hooks ${command}: unknown flag --no-such-flag\n`]);
  });

  test('the webhook refuses to start on a misspelt hook, in a flag or its variable, naming the valid hooks', () => {
    for (const r of [run('webhook', '--dev-self-signed', '--image', 'x', '--hooks', 'cpu-dedicatd'), spawnSync(process.execPath, [CLI, 'webhook', '--dev-self-signed', '--image', 'x'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PREMIGRATION_HOOKS_HOOKS: 'cpu-dedicatd' } })]) {
      expect([r.status, r.stdout]).toEqual([2, '']);
      expect(r.stderr).toBe(`premigration-hooks webhook: --hooks: unknown hook "cpu-dedicatd"; valid hooks: ${REGISTRY.names().join(', ')}\n`);
    }
  });

  test('top level: --help to stdout (exit 0); an unknown command or help topic exits 2 with one line', () => {
    expect(run('--help')).toMatchObject({ status: 0, stderr: '' });
    expect(run('--help').stdout).toMatch(/^usage: premigration-hooks <command>/);
    const bad = run('mutat');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^premigration-hooks: unknown command "mutat"/)]);
    expect(run('help', 'mutat').status).toBe(2);
  });
});
