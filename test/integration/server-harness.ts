/**
 * Shared by the server and client-server integration tests: run the REAL built server
 * (`node dist/src/cli/main.js serve`) and the REAL built hook client as child processes, talk HTTP
 * over the unix socket, and clean up every process we started by its PID.
 * `npm test` builds both first; in a dev loop run `npm run build`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO = process.cwd();
export const CLI = path.join(REPO, 'dist/src/cli/main.js');
export const CLIENT = path.join(REPO, 'hookclient/target/release/premigration-hooks-client');
/** 1 socket, 4 cores (CPUs 0-3), no SMT, one NUMA node. */
export const SYSFS = path.join(REPO, 'test/fixtures/sysfs/1s-nosmt');

export function requireBuilt(...files: string[]): void {
  for (const f of files) {
    if (!existsSync(f)) throw new Error(`${path.relative(REPO, f)} is missing: run \`npm run build\` first (npm test does)`);
  }
}

/** A short temp dir: unix socket paths must stay under 108 bytes. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  socket: string;
  conf: string;
  binDir: string;
  exited: Promise<Exit>;
  stderr(): string;
  /** Parsed JSON log lines (pino writes one object per line on stderr). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves once a log line with this msg appears (or rejects when the process exits first). */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
}

const started = new Set<ChildProcess>();

/** Kill (SIGKILL, by PID) whatever a test left running. Call from afterEach. */
export async function killStarted(): Promise<void> {
  const waits: Array<Promise<unknown>> = [];
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      waits.push(new Promise((resolve) => child.once('exit', resolve)));
      process.kill(child.pid, 'SIGKILL');
    }
  }
  started.clear();
  await Promise.all(waits);
}

export interface ServerOptions {
  dir: string;
  /** Extra flags after the standard --socket/--sysfs/--install-client/--client-conf. */
  args?: string[];
  socket?: string;
  /** Extra environment (PREMIGRATION_HOOKS_*). */
  env?: Record<string, string>;
}

/** Spawn the server without waiting for it to be ready. */
export function spawnServer(opts: ServerOptions): ServerProcess {
  const socket = opts.socket ?? path.join(opts.dir, 'hooks.sock');
  const conf = path.join(opts.dir, 'run', 'client.conf');
  const binDir = path.join(opts.dir, 'bin');
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--socket', socket, '--sysfs', SYSFS, '--install-client', binDir, '--client-conf', conf, '--client-binary', CLIENT, ...(opts.args ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env } },
  );
  started.add(child);
  let err = '';
  const waiters: Array<() => void> = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    err += s;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const logs = (): Array<Record<string, unknown>> =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitForLog = (msg: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      let done = false;
      const check = (): void => {
        if (done) return;
        const hit = logs().find((l) => l.msg === msg);
        if (hit) {
          done = true;
          resolve(hit);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done = true;
          reject(new Error(`server exited before logging "${msg}":\n${err}`));
        } else waiters.push(check);
      };
      void exited.then(() => check());
      check();
    });
  return { child, socket, conf, binDir, exited, stderr: () => err, logs, waitForLog };
}

/** Spawn the server and wait until it logs ready and /healthz answers 200. */
export async function startServer(opts: ServerOptions): Promise<ServerProcess> {
  const server = spawnServer(opts);
  await server.waitForLog('hook server ready');
  const health = await httpRequest(server.socket, { method: 'GET', path: '/healthz' });
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
  return server;
}

export async function stopServer(server: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
  if (server.child.exitCode === null && server.child.signalCode === null && server.child.pid !== undefined) {
    process.kill(server.child.pid, signal);
  }
  return server.exited;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestSpec {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function httpRequest(socketPath: string, spec: RequestSpec): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: spec.method, path: spec.path, headers: { Connection: 'close', ...spec.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** POST a domain the way the client does, with the cpuset given explicitly. */
export function postDomain(socketPath: string, xml: string, cpuset: string, domain = 'test-domain'): Promise<Reply> {
  return httpRequest(socketPath, {
    method: 'POST',
    path: '/v1/migrate-begin',
    headers: {
      'Content-Type': 'application/xml',
      'X-Premigration-Cpuset': cpuset,
      'X-Premigration-Cpuset-Source': 'cgroup2',
      'X-Premigration-Domain': domain,
      'X-Premigration-Op': 'migrate',
    },
    body: xml,
  });
}

export interface ClientRun extends Exit {
  stdout: Buffer;
  stderr: string;
}

/**
 * Run the hook client as libvirt does: four arguments, the XML on stdin, and an environment
 * rebuilt from scratch (here: PATH, LC_ALL and the test-only config override).
 */
export function runClient(conf: string, stdin: string | Buffer, args: string[] = ['test-domain', 'migrate', 'begin', '-']): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLIENT, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', PREMIGRATION_HOOKS_CLIENT_CONF: conf },
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (err += s));
    // A client that exits before reading all of stdin (non-XML ops) closes the pipe: not an error.
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(stdin);
  });
}

/**
 * A stand-in for the hook server (a test double): a raw unix-socket listener whose reply the
 * test scripts byte by byte, to show how the client treats answers the real server never gives.
 */
export interface StandIn {
  connections: number;
  close(): Promise<void>;
}

export async function standInServer(socketPath: string, onRequest: (socket: net.Socket, received: Buffer) => void): Promise<StandIn> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let received = Buffer.alloc(0);
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headerEnd = received.indexOf('\r\n\r\n');
      if (answered || headerEnd < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(received.subarray(0, headerEnd).toString('latin1'))?.[1] ?? 0);
      if (received.length - headerEnd - 4 < length) return;
      answered = true;
      onRequest(socket, received);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A password that must never show up in any log. */
export const VNC_PASSWORD = 'vnc-S3CRET-do-not-log';

/** KubeVirt-shaped dedicated-CPU domain: 2 vCPUs pinned to CPUs the target (0-3) lacks, a VNC password. */
export const PINNED_DOMAIN = `<domain type='kvm'>
  <name>default_vm-dedicated</name>
  <uuid>5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a</uuid>
  <memory unit='KiB'>2097152</memory>
  <vcpu placement='static'>2</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='12'/>
    <vcpupin vcpu='1' cpuset='13'/>
  </cputune>
  <cpu mode='host-model'>
    <topology sockets='1' dies='1' cores='2' threads='1'/>
  </cpu>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' passwd='${VNC_PASSWORD}'>
      <listen type='socket' socket='/var/run/kubevirt-private/vnc'/>
    </graphics>
  </devices>
</domain>
`;

/** No pins: no hook applies, the server answers 204. */
export const SHARED_CPU_DOMAIN = `<domain type='kvm'>
  <name>default_vm-shared</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <devices>
    <graphics type='vnc' passwd='${VNC_PASSWORD}'/>
  </devices>
</domain>
`;

/** 8 dedicated vCPUs: more than the 4-CPU fixture host can hold, so cpu-dedicated refuses. */
export const TOO_BIG_DOMAIN = `<domain type='kvm'>
  <name>default_vm-too-big</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>8</vcpu>
  <cputune>
${Array.from({ length: 8 }, (_, i) => `    <vcpupin vcpu='${i}' cpuset='${i + 16}'/>`).join('\n')}
  </cputune>
  <devices>
    <graphics type='vnc' passwd='${VNC_PASSWORD}'/>
  </devices>
</domain>
`;
