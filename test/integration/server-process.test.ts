import { DEFAULT_HOOKS, REGISTRY } from '../../src/core/hooks/registry.js';
/**
 * The real server process (`node dist/src/cli/main.js serve`) over its unix socket: start-up
 * artifacts, protocol, logs, socket ownership rules and graceful stop.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parseCpuList } from '../../src/core/topology/index.js';
import {
  CLI,
  CLIENT,
  PINNED_DOMAIN,
  SHARED_CPU_DOMAIN,
  TOO_BIG_DOMAIN,
  VNC_PASSWORD,
  httpRequest,
  killStarted,
  postDomain,
  removeDir,
  requireBuilt,
  spawnServer,
  startServer,
  stopServer,
  tempDir,
  type Reply,
} from './server-harness.js';

beforeAll(() => requireBuilt(CLI, CLIENT));

describe('hook server process', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('pmh-srv-');
  });
  afterEach(async () => {
    await killStarted();
    removeDir(dir);
  });

  test('before answering: client installed 0755, client.conf written, socket 0660', async () => {
    const server = await startServer({ dir, args: ['--on-error', 'abort', '--timeout-ms', '1500'] });
    const installed = path.join(server.binDir, 'premigration-hooks-client');
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readFileSync(installed).equals(readFileSync(CLIENT))).toBe(true);
    expect(readFileSync(server.conf, 'utf8')).toBe(
      '# written by premigration-hooks serve; read by the hook client on every migrate/restore begin\n' +
        `socket=${server.socket}\ntimeout_ms=1500\non_error=abort\n`,
    );
    const st = statSync(server.socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    const ready = server.logs().find((l) => l.msg === 'hook server ready');
    expect(ready).toMatchObject({ hooks: [...DEFAULT_HOOKS], cpus: 4, cells: 1 });
    // The lean start: no warm-up before the socket opens.
    expect(server.logs().some((l) => String(l.msg).includes('warm'))).toBe(false);
    expect(ready?.startupMs).toEqual(expect.any(Number));
  });

  test('200 / 204 / 422 / 413 / 400 over the socket; one log line each, never the XML or its password', async () => {
    const server = await startServer({ dir, args: ['--max-body-bytes', '8192'] });
    const changed = await postDomain(server.socket, PINNED_DOMAIN, '0-3', 'default_vm-dedicated');
    expect(changed.status).toBe(200);
    expect(changed.body).toContain(`<vcpupin vcpu='0' cpuset='0'/>`);
    expect(changed.body).toContain(`<vcpupin vcpu='1' cpuset='1'/>`);
    expect(changed.body).toContain(VNC_PASSWORD); // libvirt needs it back: the XML is returned whole

    expect((await postDomain(server.socket, SHARED_CPU_DOMAIN, '0-3')).status).toBe(204);
    const refused = await postDomain(server.socket, TOO_BIG_DOMAIN, '0-3');
    expect(refused.status).toBe(422);
    expect(JSON.parse(refused.body).error).toMatch(/^cpu-dedicated: not enough exclusive threads provided, could not fit \d+ core\(s\): /);
    const malformed = await postDomain(server.socket, PINNED_DOMAIN.replace('</devices>', '</devicse>'), '0-3');
    expect(malformed.status).toBe(422);
    const oversize = await postDomain(server.socket, PINNED_DOMAIN + `<!-- ${VNC_PASSWORD.repeat(400)} -->`, '0-3');
    expect(oversize.status).toBe(413);
    const noCpuset = await httpRequest(server.socket, { method: 'POST', path: '/v1/migrate-begin', body: PINNED_DOMAIN });
    expect(noCpuset.status).toBe(400);

    // The log goes to a pipe and the answers to the socket: the last line may arrive a moment after its answer.
    for (let i = 0; i < 200 && server.logs().filter((l) => l.msg === 'migrate-begin').length < 6; i++) await new Promise((r) => setTimeout(r, 10));
    const lines = server.logs().filter((l) => l.msg === 'migrate-begin');
    expect(lines.map((l) => l.status)).toEqual([200, 204, 422, 422, 413, 400]);
    expect(lines[0]).toMatchObject({
      op: 'migrate',
      domain: 'default_vm-dedicated',
      cpuset: '0-3',
      cpusetSource: 'cgroup2',
      hooks: ['cpu-dedicated'],
      changes: ["/domain/cputune/vcpupin[@vcpu='0']/@cpuset: 12→0", "/domain/cputune/vcpupin[@vcpu='1']/@cpuset: 13→1"],
      result: 'changed',
    });
    expect(server.stderr()).not.toContain(VNC_PASSWORD);
    expect(server.stderr()).not.toContain('<domain');
  });

  test('20 parallel requests with different cpusets each get their own pins', async () => {
    const server = await startServer({ dir });
    const cpusets = ['0-1', '2-3', '1,3', '0,2', '1-2'];
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => postDomain(server.socket, PINNED_DOMAIN, cpusets[i % cpusets.length] as string)));
    replies.forEach((r: Reply, i) => {
      const [a, b] = parseCpuList(cpusets[i % cpusets.length] as string);
      expect(r.status).toBe(200);
      expect(r.body).toContain(`<vcpupin vcpu='0' cpuset='${a}'/>`);
      expect(r.body).toContain(`<vcpupin vcpu='1' cpuset='${b}'/>`);
    });
  });

  test('/metrics counts the requests by op and code, and hook runs by result', async () => {
    const server = await startServer({ dir });
    await postDomain(server.socket, PINNED_DOMAIN, '0-3');
    await postDomain(server.socket, TOO_BIG_DOMAIN, '0-3');
    const m = await httpRequest(server.socket, { method: 'GET', path: '/metrics' });
    expect(m.status).toBe(200);
    expect(m.body).toContain('premigration_hooks_requests_total{op="migrate",code="200"} 1');
    expect(m.body).toContain('premigration_hooks_requests_total{op="migrate",code="422"} 1');
    expect(m.body).toContain('premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="changed"} 1');
    expect(m.body).toContain('premigration_hooks_refusals_total{hook="cpu-dedicated"} 1');
    expect(m.body).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(m.body).not.toContain('premigration_hooks_process_');
  });

  test('a stale socket left by a killed server is replaced at start', async () => {
    const first = await startServer({ dir });
    expect((await stopServer(first, 'SIGKILL')).signal).toBe('SIGKILL');
    expect(statSync(first.socket).isSocket()).toBe(true); // left behind, nobody listening
    const second = await startServer({ dir });
    expect(second.logs().some((l) => l.msg === 'removed a stale socket')).toBe(true);
    expect((await postDomain(second.socket, SHARED_CPU_DOMAIN, '0')).status).toBe(204);
  });

  test('a second server on a live socket refuses to start and leaves the first one untouched', async () => {
    const first = await startServer({ dir, args: ['--on-error', 'pass'] });
    const confBefore = readFileSync(first.conf, 'utf8');
    const second = spawnServer({ dir, args: ['--on-error', 'abort'] });
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    expect(second.logs().find((l) => l.msg === 'hook server failed to start')?.error).toBe(
      `another server is already listening on ${first.socket}; refusing to start`,
    );
    expect(readFileSync(first.conf, 'utf8')).toBe(confBefore);
    expect((await httpRequest(first.socket, { method: 'GET', path: '/healthz' })).status).toBe(200);
  });

  test('bad start-up input fails before anything is written', async () => {
    const unknownHook = spawnServer({ dir, args: ['--hooks', 'cpu-dedicated,no-such-hook'] });
    expect((await unknownHook.exited).code).toBe(2);
    const fatal = (p: typeof unknownHook): unknown => p.logs().find((l) => l.msg === 'hook server failed to start')?.error;
    // Refused while parsing the flags: one plain stderr line, as every command does for a bad flag.
    expect(unknownHook.stderr()).toBe(`premigration-hooks serve: --hooks: unknown hook "no-such-hook"; valid hooks: ${REGISTRY.names().join(', ')}\n`);
    expect(existsSync(path.join(dir, 'run', 'client.conf'))).toBe(false);
    expect(existsSync(path.join(dir, 'hooks.sock'))).toBe(false);

    const noBinary = spawnServer({ dir, args: ['--client-binary', path.join(dir, 'missing')] });
    expect((await noBinary.exited).code).toBe(1);
    expect(fatal(noBinary)).toMatch(/^cannot read the hook client binary .*missing: ENOENT/);
  });

  test('--install-only: installs the client and writes client.conf as a normal start does, then exits 0 without listening', async () => {
    const flags = ['--on-error', 'abort', '--timeout-ms', '1500', '--hooks', 'cpu-dedicated'];
    const init = spawnServer({ dir, args: [...flags, '--install-only'] });
    expect(await init.exited).toEqual({ code: 0, signal: null });
    const installed = path.join(init.binDir, 'premigration-hooks-client');
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readFileSync(installed).equals(readFileSync(CLIENT))).toBe(true);
    const conf = readFileSync(init.conf, 'utf8');
    expect(conf).toBe(
      '# written by premigration-hooks serve; read by the hook client on every migrate/restore begin\n' +
        `socket=${init.socket}\ntimeout_ms=1500\non_error=abort\n`,
    );
    // Renamed into place: no temp file is left next to the client libvirt runs, or next to the config.
    expect(readdirSync(init.binDir)).toEqual(['premigration-hooks-client']);
    expect(readdirSync(path.dirname(init.conf))).toEqual(['client.conf']);
    expect(existsSync(init.socket)).toBe(false);
    expect(init.logs().map((l) => l.msg)).toEqual(['hook client installed', 'install-only: client and client.conf in place; exiting']);
    expect(init.logs().at(-1)).toMatchObject({ hooks: ['cpu-dedicated'], clientConf: init.conf });

    // The sidecar that starts next (same flags, no --install-only) writes the very same files.
    const server = await startServer({ dir, args: flags });
    expect(readFileSync(server.conf, 'utf8')).toBe(conf);
    expect(readFileSync(installed).equals(readFileSync(CLIENT))).toBe(true);
  });

  test('--install-only failures exit non-zero with one fatal log line and write no client.conf', async () => {
    const noBinary = spawnServer({ dir, args: ['--install-only', '--client-binary', path.join(dir, 'missing')] });
    expect((await noBinary.exited).code).toBe(1);
    expect(noBinary.logs()).toEqual([expect.objectContaining({ msg: 'hook client install failed', level: 60 })]);
    expect(noBinary.logs()[0]?.error).toMatch(/^cannot read the hook client binary .*missing: ENOENT/);
    expect(noBinary.stderr().trim().split('\n')).toHaveLength(1);
    expect(existsSync(noBinary.conf)).toBe(false);

    const unknownHook = spawnServer({ dir, args: ['--install-only', '--hooks', 'no-such-hook'] });
    expect((await unknownHook.exited).code).toBe(2);
    expect(unknownHook.stderr()).toMatch(/^premigration-hooks serve: --hooks: unknown hook "no-such-hook"; valid hooks: .*\n$/);
    expect(existsSync(path.join(unknownHook.binDir, 'premigration-hooks-client'))).toBe(false);

    // Next to a live server it refuses, like a second server would, and leaves that server's config alone.
    const live = await startServer({ dir, args: ['--on-error', 'pass'] });
    const confBefore = readFileSync(live.conf, 'utf8');
    const late = spawnServer({ dir, args: ['--install-only', '--on-error', 'abort'] });
    expect((await late.exited).code).toBe(1);
    expect(late.logs().find((l) => l.msg === 'hook client install failed')?.error).toBe(`another server is already listening on ${live.socket}; refusing to start`);
    expect(readFileSync(live.conf, 'utf8')).toBe(confBefore);
  });

  test('SIGTERM: new connections refused, the in-flight request finishes, socket removed, exit 0', async () => {
    const server = await startServer({ dir, args: ['--timeout-ms', '20000'] });
    const body = Buffer.from(PINNED_DOMAIN);
    let resolveReply: (r: Reply) => void = () => {};
    const reply = new Promise<Reply>((resolve) => (resolveReply = resolve));
    const inflight = http.request(
      {
        socketPath: server.socket,
        method: 'POST',
        path: '/v1/migrate-begin',
        headers: { 'X-Premigration-Cpuset': '2-3', 'Content-Length': String(body.length), Connection: 'close' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => resolveReply({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    inflight.flushHeaders();
    await new Promise<void>((resolve) => inflight.write(body.subarray(0, 100), () => resolve()));
    // A full round trip after the partial write: the server has taken the in-flight request in.
    expect((await httpRequest(server.socket, { method: 'GET', path: '/healthz' })).status).toBe(200);

    process.kill(server.child.pid as number, 'SIGTERM');
    await server.waitForLog('stopping: draining in-flight requests');
    await expect(
      new Promise((resolve, reject) => {
        const c = net.connect(server.socket);
        c.once('connect', () => {
          c.destroy();
          resolve('connected');
        });
        c.once('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED|ENOENT/);
    expect(server.child.exitCode).toBeNull(); // still draining

    inflight.end(body.subarray(100));
    const r = await reply;
    expect(r.status).toBe(200);
    expect(r.body).toContain(`<vcpupin vcpu='0' cpuset='2'/>`);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(server.socket)).toBe(false);
    expect(server.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['migrate-begin', 'hook server stopped']));
  });

  test('POST /v1/release-end: 204, logged and counted; without --exit-on-release the server stays', async () => {
    const server = await startServer({ dir });
    const r = await httpRequest(server.socket, { method: 'POST', path: '/v1/release-end', headers: { 'X-Premigration-Domain': 'ns_vmi' } });
    expect(r.status).toBe(204);
    expect(r.body).toBe('');
    expect(await server.waitForLog('release-end')).toMatchObject({ domain: 'ns_vmi', exitOnRelease: false });
    expect((await httpRequest(server.socket, { method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await httpRequest(server.socket, { method: 'GET', path: '/metrics' })).body).toContain('premigration_hooks_releases_total 1');
    expect((await httpRequest(server.socket, { method: 'GET', path: '/v1/release-end' })).status).toBe(405);
    expect(server.child.exitCode).toBeNull();
  });

  test.each([['--exit-on-release'], ['env PREMIGRATION_HOOKS_EXIT_ON_RELEASE=1']])('%s: after release-end the server drains, removes its socket and exits 0', async (how) => {
    const server = how.startsWith('env')
      ? await startServer({ dir, env: { PREMIGRATION_HOOKS_EXIT_ON_RELEASE: '1' } })
      : await startServer({ dir, args: ['--exit-on-release'] });
    const r = await httpRequest(server.socket, { method: 'POST', path: '/v1/release-end', headers: { 'X-Premigration-Domain': 'ns_vmi' } });
    expect(r.status).toBe(204);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(server.socket)).toBe(false);
    expect(server.logs().find((l) => l.msg === 'hook server stopped')).toMatchObject({ signal: 'release-end' });
  });

  test('SIGTERM mid-response: a ~4 MB answer read slowly arrives whole, then the server exits 0', async () => {
    const server = await startServer({ dir, args: ['--timeout-ms', '20000', '--max-body-bytes', String(6 * 1024 * 1024)] });
    const big = PINNED_DOMAIN.replace('<devices>', `<!-- ${'p'.repeat(4 * 1024 * 1024)} -->\n  <devices>`);
    const body = Buffer.from(big);
    let received = 0;
    let text = '';
    let res: http.IncomingMessage | undefined;
    const gotHeaders = new Promise<void>((resolve) => {
      const req = http.request(
        { socketPath: server.socket, method: 'POST', path: '/v1/migrate-begin', headers: { 'X-Premigration-Cpuset': '2-3', 'Content-Length': String(body.length) } },
        (r) => {
          res = r;
          r.pause();
          resolve();
        },
      );
      req.end(body);
    });
    await gotHeaders;
    process.kill(server.child.pid as number, 'SIGTERM');
    await server.waitForLog('stopping: draining in-flight requests');
    // Read it slowly: 64 KiB at a time with pauses, well after the stop began.
    const done = new Promise<void>((resolve, reject) => {
      const r = res as http.IncomingMessage;
      r.on('data', (c: Buffer) => {
        received += c.length;
        text += c.toString('latin1');
        r.pause();
        setTimeout(() => r.resume(), 2);
      });
      r.on('end', () => resolve());
      r.on('error', reject);
      r.on('aborted', () => reject(new Error('response aborted')));
      r.resume();
    });
    await done;
    expect(res?.statusCode).toBe(200);
    expect(received).toBe(Number(res?.headers['content-length']));
    expect(received).toBeGreaterThan(4 * 1024 * 1024);
    expect(text.endsWith('</domain>\n')).toBe(true);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(server.socket)).toBe(false);
  });

  test('configured header and keep-alive timeouts take effect on the socket', async () => {
    const server = await startServer({ dir, args: ['--timeout-ms', '10000', '--headers-timeout-ms', '300', '--keep-alive-timeout-ms', '200'] });
    const closedAfter = (send: (c: net.Socket) => void): Promise<{ ms: number; data: string }> =>
      new Promise((resolve) => {
        const c = net.connect(server.socket);
        let data = '';
        const t0 = performance.now();
        c.on('data', (d: Buffer) => (data += d.toString()));
        c.on('close', () => resolve({ ms: performance.now() - t0, data }));
        c.on('error', () => {});
        c.on('connect', () => send(c));
      });
    // Headers that never end: cut near the configured 300 ms, far before the default (--timeout-ms, 10 s here).
    const slow = await closedAfter((c) => c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    expect(slow.ms).toBeLessThan(5000);
    expect(slow.data).toMatch(/^HTTP\/1\.1 408|^$/);
    // One keep-alive request, then silence: closed after about 200 ms of idleness.
    const idle = await closedAfter((c) => c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(idle.data).toMatch(/^HTTP\/1\.1 200/);
    expect(idle.data).toContain('Keep-Alive: timeout=0');
    expect(idle.ms).toBeLessThan(5000);
  });
});
