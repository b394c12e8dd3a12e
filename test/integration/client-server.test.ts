/**
 * The real hook client binary against the real server process. Where a case
 * needs an answer the real server never gives (a 500, a hang, junk, a cut-off 200), a scripted
 * stand-in listener takes its place, and the test name says so.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runChain } from '../../src/core/chain.js';
import { formatClientConf } from '../../src/server/install.js';
import { parseCpuList } from '../../src/core/topology/index.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import type { OnErrorPolicy } from '../../src/protocol/policy.js';
import {
  CLI,
  CLIENT,
  PINNED_DOMAIN,
  SHARED_CPU_DOMAIN,
  SYSFS,
  TOO_BIG_DOMAIN,
  VNC_PASSWORD,
  killStarted,
  removeDir,
  requireBuilt,
  runClient,
  standInServer,
  startServer,
  stopServer,
  tempDir,
  type ClientRun,
  type ServerProcess,
} from './server-harness.js';

beforeAll(() => requireBuilt(CLI, CLIENT));

/** What the server must have answered for the cpuset the client measured (read back from the server's log). */
function expectedXml(server: ServerProcess, xml: string): string {
  const line = server.logs().filter((l) => l.msg === 'migrate-begin').at(-1);
  expect(line?.cpusetSource).toMatch(/^(cgroup2|cgroup1|proc-status)$/);
  const cpuset = parseCpuList(line?.cpuset as string);
  return runChain(xml, { cpuset, host: readHostTopology(SYSFS) }).xml;
}

function expectPolicyApplied(run: ClientRun, policy: OnErrorPolicy): void {
  expect(run.signal).toBeNull();
  expect(run.code).toBe(policy === 'pass' ? 0 : 1);
  expect(run.stdout.length).toBe(0);
  expect(run.stderr).toMatch(/^premigration-hooks/);
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
}

describe('hook client ↔ hook server', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('pmh-cs-');
  });
  afterEach(async () => {
    await killStarted();
    removeDir(dir);
  });

  const writeConf = (socket: string, onError: OnErrorPolicy, timeoutMs = 2000): string => {
    const conf = path.join(dir, `client-${onError}.conf`);
    writeFileSync(conf, formatClientConf({ socket, timeoutMs, onError }));
    return conf;
  };

  test('200: the installed client prints exactly the re-pinned XML the chain computes', async () => {
    const server = await startServer({ dir });
    const installed = path.join(server.binDir, 'premigration-hooks-client');
    expect(readFileSync(installed).equals(readFileSync(CLIENT))).toBe(true);
    const run = await runClient(server.conf, PINNED_DOMAIN, ['default_vm-dedicated', 'migrate', 'begin', '-']);
    expect(run).toMatchObject({ code: 0, signal: null });
    const out = run.stdout.toString('utf8');
    expect(out).not.toBe(PINNED_DOMAIN);
    expect(out).toBe(expectedXml(server, PINNED_DOMAIN));
    expect(out).toContain(VNC_PASSWORD);
    const line = server.logs().filter((l) => l.msg === 'migrate-begin').at(-1);
    expect(line).toMatchObject({ op: 'migrate', domain: 'default_vm-dedicated', status: 200 });
    expect(server.stderr()).not.toContain(VNC_PASSWORD);
  });

  test('restore begin takes the same path as migrate begin', async () => {
    const server = await startServer({ dir });
    const run = await runClient(server.conf, PINNED_DOMAIN, ['default_vm-dedicated', 'restore', 'begin', '-']);
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8')).toBe(expectedXml(server, PINNED_DOMAIN));
    expect(server.logs().filter((l) => l.msg === 'migrate-begin').at(-1)).toMatchObject({ op: 'restore', status: 200 });
  });

  test('204: unchanged domain → exit 0, nothing on stdout', async () => {
    const server = await startServer({ dir });
    const run = await runClient(server.conf, SHARED_CPU_DOMAIN);
    expect(run).toMatchObject({ code: 0, signal: null });
    expect(run.stdout.length).toBe(0);
    expect(server.logs().filter((l) => l.msg === 'migrate-begin').at(-1)).toMatchObject({ status: 204 });
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('422 refusal with on_error=%s: the refusal message reaches stderr', async (policy) => {
    const server = await startServer({ dir, args: ['--on-error', policy] });
    const run = await runClient(server.conf, TOO_BIG_DOMAIN);
    expectPolicyApplied(run, policy);
    expect(run.stderr).toContain('cpu-dedicated: not enough exclusive threads provided, could not fit ');
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('413 from the real server (XML over --max-body-bytes), on_error=%s', async (policy) => {
    const server = await startServer({ dir, args: ['--on-error', policy, '--max-body-bytes', '2048'] });
    const big = PINNED_DOMAIN.replace('</devices>', `  <!-- ${'x'.repeat(8192)} -->\n  </devices>`);
    const run = await runClient(server.conf, big);
    expectPolicyApplied(run, policy);
    expect(run.stderr).toMatch(/413/);
    expect(server.logs().filter((l) => l.msg === 'migrate-begin').at(-1)).toMatchObject({ status: 413 });
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('oversize XML on stdin (over the client\'s 16 MiB bound), on_error=%s', async (policy) => {
    const server = await startServer({ dir, args: ['--on-error', policy] });
    const huge = PINNED_DOMAIN.replace('</devices>', `  <!-- ${'x'.repeat(17 * 1024 * 1024)} -->\n  </devices>`);
    const run = await runClient(server.conf, huge);
    expectPolicyApplied(run, policy);
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('500 from a stand-in server (test double), on_error=%s', async (policy) => {
    const socket = path.join(dir, 'standin.sock');
    const standIn = await standInServer(socket, (s) => {
      const body = '{"error":"internal error: boom"}';
      s.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
    const run = await runClient(writeConf(socket, policy), PINNED_DOMAIN);
    expectPolicyApplied(run, policy);
    expect(standIn.connections).toBe(1);
    await standIn.close();
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('server down (no socket), on_error=%s', async (policy) => {
    const run = await runClient(writeConf(path.join(dir, 'nobody.sock'), policy), PINNED_DOMAIN);
    expectPolicyApplied(run, policy);
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('slow stand-in server that never answers (test double): the deadline fires, on_error=%s', async (policy) => {
    const socket = path.join(dir, 'slow.sock');
    const standIn = await standInServer(socket, () => {
      /* read the request, never answer */
    });
    const run = await runClient(writeConf(socket, policy, 300), PINNED_DOMAIN);
    expectPolicyApplied(run, policy);
    expect(standIn.connections).toBe(1);
    await standIn.close();
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('garbage from a stand-in server (test double), on_error=%s', async (policy) => {
    const socket = path.join(dir, 'junk.sock');
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const standIn = await standInServer(socket, (s) => s.end(junk));
    const run = await runClient(writeConf(socket, policy), PINNED_DOMAIN);
    expectPolicyApplied(run, policy);
    await standIn.close();
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('a 200 cut off mid-body by a stand-in server (test double) prints no partial XML, on_error=%s', async (policy) => {
    const socket = path.join(dir, 'cut.sock');
    const standIn = await standInServer(socket, (s) => {
      s.end(`HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: ${PINNED_DOMAIN.length}\r\n\r\n${PINNED_DOMAIN.slice(0, 120)}`);
    });
    const run = await runClient(writeConf(socket, policy), PINNED_DOMAIN);
    expectPolicyApplied(run, policy);
    await standIn.close();
  });

  test('non-XML ops (prepare begin, started begin, migrate end) exit 0 at once without connecting', async () => {
    const socket = path.join(dir, 'count.sock');
    const standIn = await standInServer(socket, (s) => s.end('HTTP/1.1 500 x\r\nContent-Length: 0\r\n\r\n'));
    const conf = writeConf(socket, 'abort');
    for (const args of [['vm', 'prepare', 'begin', '-'], ['vm', 'started', 'begin', '-'], ['vm', 'migrate', 'end', '-']]) {
      const run = await runClient(conf, PINNED_DOMAIN, args);
      expect(run).toMatchObject({ code: 0, signal: null });
      expect(run.stdout.length).toBe(0);
    }
    expect(standIn.connections).toBe(0);
    await standIn.close();
  });

  test('release end tells the server once (POST /v1/release-end) and exits 0 even with on_error=abort and a failing answer (stand-in listener)', async () => {
    const socket = path.join(dir, 'release.sock');
    const heads: string[] = [];
    const standIn = await standInServer(socket, (s, received) => {
      heads.push(received.toString('latin1'));
      s.end('HTTP/1.1 500 x\r\nContent-Length: 0\r\n\r\n');
    });
    const run = await runClient(writeConf(socket, 'abort'), '', ['ns_vm', 'release', 'end', '-']);
    expect(run).toMatchObject({ code: 0, signal: null });
    expect(run.stdout.length).toBe(0);
    expect(standIn.connections).toBe(1);
    expect(heads[0]).toMatch(/^POST \/v1\/release-end HTTP\/1\.1\r\n/);
    expect(heads[0]).toMatch(/\r\nX-Premigration-Domain: ns_vm\r\n/i);
    await standIn.close();
  });

  test('the client binary is statically linked (no ELF interpreter) and at most 1 MiB', () => {
    const elf = readFileSync(CLIENT);
    expect(elf.length).toBeLessThanOrEqual(1024 * 1024);
    expect(elf.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))).toBe(true);
    expect(elf[4]).toBe(2); // ELFCLASS64
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const phentsize = elf.readUInt16LE(0x36);
    const phnum = elf.readUInt16LE(0x38);
    const types = Array.from({ length: phnum }, (_, i) => elf.readUInt32LE(phoff + i * phentsize));
    expect(types).toContain(1); // PT_LOAD: the table was read correctly
    expect(types).not.toContain(3); // PT_INTERP: would need a dynamic loader in the launcher image
  });

  test.each<OnErrorPolicy>(['pass', 'abort'])('an invalid config (bad timeout_ms): its on_error=%s still applies', async (policy) => {
    const conf = path.join(dir, 'bad.conf');
    writeFileSync(conf, `socket=${path.join(dir, 'any.sock')}\non_error=${policy}\ntimeout_ms=soon\n`);
    const run = await runClient(conf, PINNED_DOMAIN);
    expectPolicyApplied(run, policy);
    expect(run.stderr).toContain('timeout_ms');
  });

  test('a missing config file means pass: exit 0, nothing on stdout, one stderr line', async () => {
    const run = await runClient(path.join(dir, 'absent.conf'), PINNED_DOMAIN);
    expectPolicyApplied(run, 'pass');
    expect(run.stderr).toContain('absent.conf');
  });

  test('20 client invocations at once all get the right XML', async () => {
    const server = await startServer({ dir });
    const runs = await Promise.all(Array.from({ length: 20 }, () => runClient(server.conf, PINNED_DOMAIN)));
    const expected = expectedXml(server, PINNED_DOMAIN);
    for (const run of runs) {
      expect(run).toMatchObject({ code: 0, signal: null });
      expect(run.stdout.toString('utf8')).toBe(expected);
    }
    expect(server.logs().filter((l) => l.msg === 'migrate-begin' && l.status === 200)).toHaveLength(20);
  });

  test('server restarted between calls: answer, then policy while down, then answer again', async () => {
    const first = await startServer({ dir, args: ['--on-error', 'pass'] });
    const before = await runClient(first.conf, PINNED_DOMAIN);
    expect(before.stdout.toString('utf8')).toBe(expectedXml(first, PINNED_DOMAIN));
    expect(await stopServer(first)).toEqual({ code: 0, signal: null });

    const down = await runClient(first.conf, PINNED_DOMAIN);
    expectPolicyApplied(down, 'pass');

    const second = await startServer({ dir, args: ['--on-error', 'pass'] });
    const after = await runClient(second.conf, PINNED_DOMAIN);
    expect(after).toMatchObject({ code: 0, signal: null });
    expect(after.stdout.toString('utf8')).toBe(expectedXml(second, PINNED_DOMAIN));
  });
});
