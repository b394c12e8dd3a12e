import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLIENT_INSTALL_NAME, formatClientConf, installClient, writeClientConf } from '../../src/server/install.js';

describe('client install and client.conf', () => {
  let dir: string;
  let umask: number;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pmh-install-'));
    // A restrictive umask proves the modes are set explicitly, not inherited.
    umask = process.umask(0o077);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the config is the key=value format the Rust client reads', () => {
    expect(formatClientConf({ socket: '/var/run/premigration-hooks/hooks.sock', timeoutMs: 2000, onError: 'abort' })).toBe(
      '# written by premigration-hooks serve; read by the hook client on every migrate/restore begin\n' +
        'socket=/var/run/premigration-hooks/hooks.sock\n' +
        'timeout_ms=2000\n' +
        'on_error=abort\n',
    );
  });

  test('writeClientConf replaces an existing file, mode 0644, no temp file left behind', async () => {
    const conf = path.join(dir, 'run', 'client.conf');
    await writeClientConf(conf, { socket: '/old.sock', timeoutMs: 1, onError: 'pass' });
    await writeClientConf(conf, { socket: '/new.sock', timeoutMs: 500, onError: 'abort' });
    expect(readFileSync(conf, 'utf8')).toContain('socket=/new.sock\ntimeout_ms=500\non_error=abort\n');
    expect(statSync(conf).mode & 0o777).toBe(0o644);
    expect(readdirSync(path.dirname(conf))).toEqual(['client.conf']);
  });

  test('installClient copies the binary byte for byte as premigration-hooks-client, mode 0755', async () => {
    const src = path.join(dir, 'built-client');
    const bytes = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]);
    writeFileSync(src, bytes, { mode: 0o600 });
    const installed = await installClient(src, path.join(dir, 'bin'));
    expect(installed).toBe(path.join(dir, 'bin', CLIENT_INSTALL_NAME));
    expect(readFileSync(installed).equals(bytes)).toBe(true);
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readdirSync(path.join(dir, 'bin'))).toEqual([CLIENT_INSTALL_NAME]);
  });

  test('a missing client binary is a clear error and installs nothing', async () => {
    await expect(installClient(path.join(dir, 'nope'), path.join(dir, 'bin'))).rejects.toThrow(/cannot read the hook client binary .*nope: ENOENT/);
    expect(() => readdirSync(path.join(dir, 'bin'))).toThrow(/ENOENT/);
  });
});
