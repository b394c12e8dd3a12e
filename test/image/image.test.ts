/**
 * The image, assembled and run here without a container runtime (docs/image.md, "Built here
 * without a container runtime"). test/image/build-rootfs.sh builds an OCI image layout from the
 * files the Dockerfile's runtime stage ships and unpacks it again with umoci; this test then
 *  1. checks it like the Dockerfile: the config's entrypoint, user and workdir are the
 *     Dockerfile's; every path the runtime stage COPYs is there; the CLI link; no shell and no
 *     package manager; nothing writable by the runtime user;
 *  2. starts the unpacked rootfs read-only as uid/gid 107, as a pod would (a private mount
 *     namespace: the rootfs bind-mounted read-only, tmpfs on /tmp, the host's /dev, /proc and
 *     /sys, the volumes bind-mounted at their pod paths), for `webhook --dev-self-signed`
 *     (reached on 127.0.0.1 and ::1) and for `serve`;
 *  3. runs the client that `serve` installed as uid 107 from that separate directory, in a
 *     mount namespace of its own that sees the shared volume at the same path, as `compute` runs
 *     it, against the server in the image.
 * Needs root (mount namespaces, chroot); npm test runs as root.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { landingPath, parseCopy, parseStages, type Stage } from '../manifests/dockerfile.js';
import { REPO_ROOT } from '../manifests/kustomize.js';
import { freePort, stopChild } from '../support/net.js';
import { PINNED_DOMAIN } from '../integration/server-harness.js';

const SCRIPT = path.join(REPO_ROOT, 'test', 'image', 'build-rootfs.sh');
const OUT = mkdtempSync(path.join(os.tmpdir(), 'pmh-image-'));
const ROOTFS = path.join(OUT, 'bundle', 'rootfs');
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RUNTIME = parseStages(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')).find((s) => s.name === 'runtime') as Stage;
const last = (keyword: string): string | undefined => RUNTIME.instructions.filter((i) => i.keyword === keyword).pop()?.args.trim();

interface OciConfig {
  architecture: string;
  os: string;
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string; Env?: string[] };
}

function ociConfig(): OciConfig {
  const blob = (digest: string): string => readFileSync(path.join(OUT, 'oci', 'blobs', ...digest.split(':')), 'utf8');
  const index = JSON.parse(readFileSync(path.join(OUT, 'oci', 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'test');
  if (!entry) throw new Error('no image tagged test in the layout');
  const manifest = JSON.parse(blob(entry.digest)) as { config: { digest: string }; layers: unknown[] };
  return JSON.parse(blob(manifest.config.digest)) as OciConfig;
}

/** A volume: a host directory mounted at `at` in the image, read-write, owned by 107 like an emptyDir with fsGroup. */
interface Volume { host: string; at: string }

const running: ChildProcess[] = [];

/**
 * Start `premigration-hooks <args>` from the image as the runtime would: entrypoint resolved on the
 * image's PATH, workdir /app, uid/gid 107 without supplementary groups, root filesystem read-only.
 * Mount points for the volumes are made in the rootfs first, as runc does.
 */
function runInImage(args: string[], volumes: Volume[] = [], argv0 = 'premigration-hooks'): ChildProcess {
  for (const v of volumes) mkdirSync(path.join(ROOTFS, v.at), { recursive: true });
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -e',
    `R=${q(ROOTFS)}`,
    'mount --bind "$R" "$R"',
    ...volumes.map((v) => `mount --bind ${q(v.host)} "$R"${q(v.at)}`),
    'mount -o remount,bind,ro "$R"',
    'mount -t tmpfs -o size=16m,mode=1777 tmpfs "$R/tmp"',
    'mount --rbind /dev "$R/dev"',
    'mount -t proc proc "$R/proc"',
    'mount --rbind /sys "$R/sys"',
    `exec env -i PATH=${IMAGE_PATH} NODE_ENV=production unshare --root="$R" --wd=/app --setgid=107 --setuid=107 ${[argv0, ...args].map(q).join(' ')}`,
  ].join('\n');
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.push(child);
  return child;
}

function collect(child: ChildProcess): { out: () => string; err: () => string; done: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { out: () => out, err: () => err, done };
}

async function runToEnd(args: string[], volumes: Volume[] = [], argv0?: string): Promise<{ code: number | null; out: string; err: string }> {
  const c = collect(runInImage(args, volumes, argv0));
  const code = await c.done;
  return { code, out: c.out(), err: c.err() };
}

function get(mod: typeof http | typeof https, host: string, port: number, urlPath: string, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host, port, path: urlPath, method: body ? 'POST' : 'GET', rejectUnauthorized: false, agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, log: () => string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}; output:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(() => {
  execFileSync('bash', [SCRIPT, OUT], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 240_000 });
}, 300_000);

afterAll(async () => {
  for (const c of running) await stopChild(c);
  rmSync(OUT, { recursive: true, force: true });
});

describe('the OCI image, checked like the Dockerfile', () => {
  test('config: entrypoint, cmd, user 107:107 and workdir are the runtime stage\'s', () => {
    const { config, os: imageOs } = ociConfig();
    expect(imageOs).toBe('linux');
    expect(config.Entrypoint).toEqual(JSON.parse(last('ENTRYPOINT') ?? 'null'));
    expect(config.Cmd).toEqual(JSON.parse(last('CMD') ?? 'null'));
    expect(config.User).toBe(last('USER'));
    expect(config.User).toBe('107:107');
    expect(config.WorkingDir).toBe(last('WORKDIR'));
    expect(config.Env).toContain('NODE_ENV=production');
  });

  test('every path the Dockerfile\'s runtime stage COPYs is in the image', () => {
    const landed = RUNTIME.instructions.filter((i) => i.keyword === 'COPY').flatMap((ins) => {
      const copy = parseCopy(ins);
      return copy.sources.map((source) => landingPath(RUNTIME, ins, source, copy.dest));
    });
    expect(landed.length).toBeGreaterThanOrEqual(6);
    expect(landed.filter((p) => !existsSync(path.join(ROOTFS, p)))).toEqual([]);
  });

  test('the entrypoint is on PATH and is the CLI; no shell, no package manager', () => {
    expect(readlinkSync(path.join(ROOTFS, 'usr/local/bin/premigration-hooks'))).toBe('/app/dist/src/cli/main.js');
    for (const p of ['bin/sh', 'bin/bash', 'bin/dash', 'usr/bin/sh', 'usr/bin/bash', 'usr/bin/apt', 'usr/bin/dpkg', 'usr/local/bin/npm', 'usr/local/bin/npx']) {
      expect([p, existsSync(path.join(ROOTFS, p))]).toEqual([p, false]);
    }
  });

  test('only production dependencies, root-owned and not writable by the runtime user', () => {
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const dev = Object.entries(lock.packages).filter(([name, p]) => name.startsWith('node_modules/') && p.dev === true && !name.slice(13).includes('node_modules/'));
    expect(dev.length).toBeGreaterThan(0);
    expect(dev.map(([name]) => name).filter((name) => existsSync(path.join(ROOTFS, 'app', name)))).toEqual([]);
    expect(existsSync(path.join(ROOTFS, 'app/node_modules/express/package.json'))).toBe(true);
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        const st = lstatSync(p);
        if (st.uid !== 0 || (!st.isSymbolicLink() && (st.mode & 0o022) !== 0)) offenders.push(path.relative(ROOTFS, p));
        if (st.isDirectory()) walk(p);
      }
    };
    walk(path.join(ROOTFS, 'app'));
    expect(offenders).toEqual([]);
  });
});

describe('the unpacked image, started read-only as uid 107', () => {
  test('runs as 107:107 without groups, on a read-only root with a writable /tmp', async () => {
    const probe = [
      "const fs = require('fs');",
      "const status = fs.readFileSync('/proc/self/status', 'utf8');",
      "const f = (k) => (status.match(new RegExp('^' + k + ':[ \\\\t]*(.*)$', 'm')) || [])[1];",
      "const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'ok'; } catch (e) { return e.code; } };",
      "console.log(JSON.stringify({ uid: f('Uid'), gid: f('Gid'), groups: f('Groups'), cwd: process.cwd(), app: tryWrite('/app/x'), root: tryWrite('/x'), tmp: tryWrite('/tmp/x') }));",
    ].join(' ');
    const r = await runToEnd(['-e', probe], [], 'node');
    expect(r.err).toBe('');
    const got = JSON.parse(r.out) as Record<string, string>;
    expect(got).toEqual({ uid: '107\t107\t107\t107', gid: '107\t107\t107\t107', groups: '', cwd: '/app', app: 'EROFS', root: 'EROFS', tmp: 'ok' });
  }, 30_000);

  test('`--help` (the image\'s default command) and `version`', async () => {
    const help = await runToEnd(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: premigration-hooks /);
    const version = await runToEnd(['version']);
    expect(version.code).toBe(0);
    expect(version.out.trim()).toContain((JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  }, 30_000);

  test('`webhook --dev-self-signed`: ready on 127.0.0.1 and ::1, injects its image, serves metrics, stops on SIGTERM', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = runInImage([
      'webhook', '--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:test', '--gate-source', 'always',
      // No apiserver here: a fixed sidecar shape and no namespace-limit watches.
      '--sidecar-mode', 'native', '--namespace-limits', 'ignore',
      '--port', String(port), '--metrics-port', String(metricsPort), '--report-port', String(await freePort()), '--shutdown-delay-ms', '0',
    ]);
    const c = collect(child);
    await until('webhook /readyz', async () => ((await get(https, '127.0.0.1', port, '/readyz')).status === 200 ? true : undefined), c.err);
    expect((await get(https, '::1', port, '/readyz')).status).toBe(200);
    const review = readFileSync(path.join(REPO_ROOT, 'test/golden/webhook/kv17-dedicated-cpu/review.json'));
    const res = await get(https, '::1', port, '/mutate', review);
    expect(res.status).toBe(200);
    const response = (JSON.parse(res.text) as { response: { allowed: boolean; patch?: string } }).response;
    expect(response.allowed).toBe(true);
    expect(Buffer.from(response.patch ?? '', 'base64').toString('utf8')).toContain('"image":"registry.example.com/premigration-hooks:test"');
    // The metrics listener starts beside the admission one; readiness of /readyz does not imply it.
    const metrics = await until('webhook /metrics', () => get(http, '127.0.0.1', metricsPort, '/metrics'), c.err);
    expect(metrics.text).toMatch(/^premigration_hooks_admission_requests_total\{result="injected"/m);
    child.kill('SIGTERM');
    expect(await c.done).toBe(0);
  }, 60_000);

  test('`serve` installs the client and answers it; the client runs as uid 107 from that separate directory, as compute runs it', async () => {
    const shared = mkdtempSync(path.join(OUT, 'run-'));
    const hooks = mkdtempSync(path.join(OUT, 'qemu.d-'));
    for (const d of [shared, hooks]) chownSync(d, 107, 107);
    const volumes = [
      { host: shared, at: '/run/premigration-hooks' },
      { host: hooks, at: '/etc/libvirt/hooks/qemu.d' },
    ];
    const child = runInImage(['serve', '--socket', '/var/run/premigration-hooks/hooks.sock', '--install-client', '/etc/libvirt/hooks/qemu.d', '--on-error', 'abort'], volumes);
    const c = collect(child);
    await until('the server socket', () => (existsSync(path.join(shared, 'hooks.sock')) ? true : undefined), c.err);
    const client = path.join(hooks, 'premigration-hooks-client');
    expect(statSync(client).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(shared, 'client.conf'), 'utf8')).toContain('socket=/var/run/premigration-hooks/hooks.sock\n');

    // The startup probe, from the image, as the sidecar's probe runs it.
    const probe = await runToEnd(['healthcheck', '--socket', '/var/run/premigration-hooks/hooks.sock'], volumes);
    expect([probe.code, probe.err]).toEqual([0, '']);

    // compute: another root (here the host's), the shared volume at the same path, uid 107.
    const compute = spawnSync(
      'unshare',
      [
        '--mount', '--propagation', 'private', '/bin/sh', '-ec',
        `mount -t tmpfs tmpfs /run; mkdir -p /run/premigration-hooks; mount --bind '${shared}' /run/premigration-hooks; ` +
          `exec setpriv --reuid=107 --regid=107 --clear-groups env -i PATH=/usr/bin:/bin '${client}' default_vm-dedicated migrate begin -`,
      ],
      { input: PINNED_DOMAIN, encoding: 'utf8', timeout: 20_000 },
    );
    expect(compute.stderr).toBe('');
    expect(compute.status).toBe(0);
    expect(compute.stdout).toMatch(/^<domain[\s\S]*<vcpupin vcpu='0' cpuset='\d+'\/>/);
    expect(compute.stdout).not.toContain("cpuset='12'");
    child.kill('SIGTERM');
    expect(await c.done).toBe(0);
    expect(c.err()).toContain('"msg":"migrate-begin"');
  }, 60_000);
});
