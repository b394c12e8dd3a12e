/**
 * Just enough of the Dockerfile grammar to check the facts the image depends on: instructions
 * (with line continuations and the comments Docker allows inside them), grouped into stages.
 * dockerfile-utils lints the syntax; this only reads what the structural tests need.
 */
import path from 'node:path';

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  name: string | undefined;
  /** The FROM's --platform flag, if any. */
  platform: string | undefined;
  image: string;
  instructions: Instruction[];
}

export interface CopyInstruction {
  from: string | undefined;
  chmod: string | undefined;
  sources: string[];
  dest: string;
}

/** Split into instructions; a trailing backslash continues a line, comment lines inside are dropped (as Docker does). */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let current: { parts: string[]; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (current === undefined) {
      if (trimmed === '' || trimmed.startsWith('#')) return;
      current = { parts: [], line: i + 1 };
    } else if (trimmed.startsWith('#')) {
      return;
    }
    const continued = trimmed.endsWith('\\');
    current.parts.push(continued ? trimmed.slice(0, -1).trim() : trimmed);
    if (!continued) {
      const joined = current.parts.filter((p) => p !== '').join(' ');
      const m = /^(\S+)\s*(.*)$/.exec(joined);
      if (m) out.push({ keyword: (m[1] as string).toUpperCase(), args: m[2] as string, line: current.line });
      current = undefined;
    }
  });
  if (current !== undefined) throw new Error(`Dockerfile ends inside a continued instruction (line ${current.line})`);
  return out;
}

/** Global ARG defaults (before the first FROM), for resolving `${NAME}` in FROM lines. */
function globalArgs(instructions: Instruction[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') break;
    if (ins.keyword !== 'ARG') continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(ins.args.trim());
    if (m?.[2] !== undefined) args.set(m[1] as string, m[2]);
  }
  return args;
}

export function parseStages(text: string): Stage[] {
  const instructions = parseInstructions(text);
  const args = globalArgs(instructions);
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      let platform: string | undefined;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift() as string;
        if (flag.startsWith('--platform=')) platform = flag.slice('--platform='.length);
      }
      const image = (words[0] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => args.get((a ?? b) as string) ?? whole);
      const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      stages.push({ name, platform, image, instructions: [] });
    } else if (stages.length > 0) {
      (stages[stages.length - 1] as Stage).instructions.push(ins);
    }
  }
  return stages;
}

export function parseCopy(ins: Instruction): CopyInstruction {
  if (ins.keyword !== 'COPY') throw new Error(`line ${ins.line}: not a COPY`);
  const words = ins.args.split(/\s+/);
  const flags = new Map<string, string>();
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = (words.shift() as string).slice(2).split('=', 2) as [string, string?];
    flags.set(k, v);
  }
  if (words.length < 2) throw new Error(`line ${ins.line}: COPY needs a source and a destination`);
  return { from: flags.get('from'), chmod: flags.get('chmod'), sources: words.slice(0, -1), dest: words[words.length - 1] as string };
}

/**
 * Where one COPY source lands, given the stage's WORKDIR at that point: a destination ending in
 * `/` (or `.`) is a directory that receives the source under its own name, as in Docker.
 */
export function landingPath(stage: Stage, ins: Instruction, source: string, dest: string): string {
  let dir = '/';
  for (const i of stage.instructions) {
    if (i === ins) break;
    if (i.keyword !== 'WORKDIR') continue;
    const w = i.args.trim();
    dir = w.startsWith('/') ? w : `${dir.replace(/\/$/, '')}/${w}`;
  }
  const intoDir = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
  const base = dest.startsWith('/') ? dest : `${dir.replace(/\/$/, '')}/${dest.replace(/^\.\/?/, '')}`;
  const target = intoDir ? `${base.replace(/\/?\.?$/, '')}/${path.posix.basename(source)}` : base;
  return path.posix.normalize(target).replace(/\/$/, '');
}

/**
 * .dockerignore, for the simple patterns this repo uses: `*`, and literal paths (a directory
 * covers what is under it), each optionally negated with `!`. The last matching line wins,
 * as in Docker. Anything fancier is rejected so that this matcher never silently disagrees
 * with Docker's.
 */
export function dockerignoreAllows(patterns: string, file: string): boolean {
  let allowed = true;
  for (const raw of patterns.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (pattern !== '*' && /[*?[\]\\]/.test(pattern)) throw new Error(`.dockerignore pattern "${line}" is beyond this test's matcher`);
    const matches = pattern === '*' || file === pattern || file.startsWith(`${pattern}/`);
    if (matches) allowed = negated;
  }
  return allowed;
}
