/**
 * The demo's last line, "Try it yourself: …", is a command for the reader to paste. It must work
 * as printed: from a checkout after `npm run demo` (run here exactly like that, through npm, in
 * the repository root), and as the image prints it (the CLI on PATH; here a PATH entry that
 * holds only a link to the bin, as the Dockerfile makes it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = process.cwd();
const BIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

function tryItLine(output: string): string {
  const line = output.split('\n').find((l) => l.startsWith('Try it yourself: '));
  if (!line) throw new Error(`the demo printed no "Try it yourself" line:\n${output}`);
  return line.slice('Try it yourself: '.length);
}

function runAsPrinted(command: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/bin/sh', ['-c', command], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('from a checkout: `npm run demo` prints an npx command that works as printed', () => {
  const out = execFileSync('npm', ['run', '--silent', 'demo'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const command = tryItLine(out);
  expect(command).toMatch(/^npx premigration-hooks mutate /);
  // No global install: PATH without any premigration-hooks on it.
  expect(spawnSync('/bin/sh', ['-c', 'command -v premigration-hooks'], { env: { PATH: process.env.PATH } }).status).not.toBe(0);
  const r = runAsPrinted(command, { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_offline: 'true' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^<domain[\s\S]*<vcpupin vcpu='0' cpuset='5'\/>/);
});

test('in the image: the demo, started as the entrypoint, prints a command for the CLI on PATH that works', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmh-path-'));
  try {
    symlinkSync(BIN, path.join(dir, 'premigration-hooks'));
    const env = { PATH: `${dir}:${path.dirname(process.execPath)}:/usr/bin:/bin` };
    const out = execFileSync(path.join(dir, 'premigration-hooks'), ['demo'], { cwd: ROOT, env, encoding: 'utf8' });
    const command = tryItLine(out);
    expect(command).toMatch(/^premigration-hooks mutate /);
    const r = runAsPrinted(command, env);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("<vcpupin vcpu='0' cpuset='5'/>");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
