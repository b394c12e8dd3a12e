/**
 * The one flag parser of every command: `node:util` parseArgs over a table of flags, with each
 * flag's PREMIGRATION_HOOKS_<ENV> variable underneath (a flag beats its variable), so unknown
 * flags, booleans, missing values and `--help` behave the same everywhere. Pure: argv and env
 * in, values or a UsageError out.
 */
import { parseArgs } from 'node:util';
import { InputError, PremigrationError } from '../core/errors.js';
import { PRODUCT } from './version.js';

export const ENV_PREFIX = 'PREMIGRATION_HOOKS_';

export interface FlagSpec {
  help: string;
  /** Name of the environment variable after ENV_PREFIX; none: the flag has no variable. */
  env?: string;
  /** Takes no value: `--flag`, `--flag=true|false|1|0`, or its variable set to one of those. */
  boolean?: true;
  /** Placeholder shown in the usage text (default `<value>`). */
  value?: string;
  /** May be given more than once; every value is in ParsedFlags.lists (the variable counts as one). */
  multiple?: true;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** A wrong flag or value: the command prints one line and exits 2. */
export class UsageError extends InputError {}

export interface ParsedFlags {
  /** The flags given (argv over env), booleans as 'true'/'false'. */
  values: Map<string, string>;
  /** Every value of a `multiple` flag, in order (argv, else its variable); absent when not given. */
  lists: Map<string, string[]>;
  help: boolean;
}

const BOOLEAN_TEXT: Readonly<Record<string, string>> = { true: 'true', '1': 'true', false: 'false', '0': 'false' };

function booleanValue(name: string, raw: string): string {
  const v = BOOLEAN_TEXT[raw];
  if (v === undefined) throw new UsageError(`--${name} must be true or false (or 1 or 0), got "${raw}"`);
  return v;
}

/** The node:util parseArgs messages, in one style of our own. */
function usageMessage(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown flag ${flag ?? message}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument "${/'([^']*)'/.exec(message)?.[1] ?? message}"`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(message)) return `${flag ?? 'a flag'} needs a value`;
    if (/ambiguous/.test(message)) return `${flag ?? 'a flag'} needs a value (to pass one that starts with "-", write ${flag ?? '--flag'}=<value>)`;
  }
  return message.replace(/\s*[\r\n]+\s*/g, ' ');
}

export function parseFlags(table: FlagTable, argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParsedFlags {
  // Booleans are strings to parseArgs too, so that `--flag=false` means false; a bare `--flag`
  // is rewritten to `--flag=true` first.
  const booleans = new Set(Object.entries(table).filter(([, s]) => s.boolean).map(([n]) => n));
  const args = argv.map((a) => (a.startsWith('--') && !a.includes('=') && booleans.has(a.slice(2)) ? `${a}=true` : a));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.entries(table).map(([name, spec]) => [name, { type: 'string' as const, ...(spec.multiple ? { multiple: true } : {}) }])),
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(usageMessage(err));
  }
  const values = new Map<string, string>();
  const lists = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(table)) {
    let fromArgv = parsed.values[name];
    if (Array.isArray(fromArgv)) {
      const all = fromArgv.filter((v): v is string => typeof v === 'string');
      if (all.length > 0) lists.set(name, all);
      fromArgv = all[all.length - 1];
    }
    const fromEnv = spec.env ? env[ENV_PREFIX + spec.env] : undefined;
    const raw = typeof fromArgv === 'string' ? fromArgv : fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
    if (raw === undefined) continue;
    values.set(name, spec.boolean ? booleanValue(name, raw) : raw);
    if (spec.multiple && !lists.has(name)) lists.set(name, [raw]);
  }
  return { values, lists, help: parsed.values.help === true };
}

/** `usage: premigration-hooks <command> <synopsis>`, a summary, then one line per flag. */
export function usageText(command: string, synopsis: string, table: FlagTable, summary?: string): string {
  const rows: Array<[string, FlagSpec]> = [...Object.entries(table), ['help', { help: 'print this help and exit' }]];
  const left = rows.map(([name, spec]) => `  ${name === 'help' ? '-h, ' : ''}--${name}${spec.boolean || name === 'help' ? '' : ` ${spec.value ?? '<value>'}`}`);
  const width = Math.max(...left.map((l) => l.length)) + 2; // a column wide enough for the longest flag
  const lines = rows.map(([, spec], i) => `${(left[i] as string).padEnd(width)}${spec.help}${spec.env ? `  [$${ENV_PREFIX}${spec.env}]` : ''}`);
  return [`usage: ${PRODUCT} ${command} ${synopsis}`.trimEnd(), ...(summary ? ['', summary] : []), '', ...lines, ''].join('\n');
}

/** A boolean already normalised by parseFlags. */
export function flagIsTrue(values: ReadonlyMap<string, string>, name: string): boolean {
  return values.get(name) === 'true';
}

/** "a,b , c" → ["a","b","c"]; empty → undefined (meaning: the default set). */
export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length ? items : undefined;
}

export function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

export function parseNonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === '0') return 0;
  return parsePositiveInt(name, value, fallback);
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${name} must be one of ${allowed.join('|')}, got "${value}"`);
}

/**
 * One line `premigration-hooks <command>: <message>` on stderr and exit 2, for the errors a
 * caller can act on (a flag, the input, a hook's refusal); faults are rethrown (exit 1).
 */
export function reportUsageError(command: string, err: unknown, write: (line: string) => void = (l) => process.stderr.write(l)): number {
  // Bad flags, bad input and refusals are the caller's to act on; anything else is a fault.
  if (!(err instanceof PremigrationError)) throw err;
  write(`${PRODUCT} ${command}: ${err.message.replace(/\s*[\r\n]+\s*/g, ' ').trim()}\n`);
  return 2;
}
