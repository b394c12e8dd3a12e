/**
 * The webhook's default bind address `::` is dual-stack: the same run answers on 127.0.0.1 and
 * on ::1, on both its HTTPS and its metrics port. Where the kernel has no IPv6, listen() on `::`
 * fails with EAFNOSUPPORT: this machine has IPv6, so that one case uses a test double (a server
 * whose listen() on `::` fails like such a kernel) to check the fallback to 0.0.0.0.
 */
import { EventEmitter } from 'node:events';
import http, { type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { DUAL_STACK_ADDRESS, listen } from '../../src/webhook/http/app.js';
import { main } from '../../src/webhook/main.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { freePort } from '../support/net.js';

function get(mod: typeof http | typeof https, host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = mod.request({ host, port, path, method: 'GET', rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the default bind address is ::', () => {
  expect(parseWebhookSettings(['--dev-self-signed', '--image', 'x']).bindAddress).toBe(DUAL_STACK_ADDRESS);
});

test('with the default bind address the webhook answers on 127.0.0.1 and on ::1', async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  const done = main([
    '--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0', '--gate-source', 'always',
    '--port', String(port), '--metrics-port', String(metricsPort), '--report-port', String(await freePort()), '--shutdown-delay-ms', '0', '--log-level', 'silent',
  ]);
  try {
    let up = 0;
    for (let i = 0; i < 300 && up !== 200; i++) {
      up = await get(https, '127.0.0.1', port, '/healthz').catch(() => 0);
      if (up !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(up).toBe(200);
    expect(await get(https, '::1', port, '/healthz')).toBe(200);
    expect(await get(http, '127.0.0.1', metricsPort, '/metrics')).toBe(200);
    expect(await get(http, '::1', metricsPort, '/metrics')).toBe(200);
  } finally {
    process.emit('SIGTERM');
  }
  expect(await done).toBe(0);
});

/** Test double: a server whose listen() on `::` fails as on a kernel without IPv6. */
class NoIpv6Server extends EventEmitter {
  readonly hosts: string[] = [];
  listen(_port: number, host: string, cb: () => void): this {
    this.hosts.push(host);
    setImmediate(() => {
      if (host === '::') this.emit('error', Object.assign(new Error('listen EAFNOSUPPORT: address family not supported ::'), { code: 'EAFNOSUPPORT' }));
      else cb();
    });
    return this;
  }
}

test('on a kernel without IPv6, :: falls back to 0.0.0.0; an explicit IPv6 address does not', async () => {
  const double = new NoIpv6Server();
  await listen(double as unknown as Server, 8443, '::');
  expect(double.hosts).toEqual(['::', '0.0.0.0']);
  const explicit = new NoIpv6Server();
  explicit.listen = function (this: NoIpv6Server, _p: number, host: string): NoIpv6Server {
    this.hosts.push(host);
    setImmediate(() => this.emit('error', Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' })));
    return this;
  };
  await expect(listen(explicit as unknown as Server, 8443, '::1')).rejects.toThrow(/EADDRNOTAVAIL/);
  expect(explicit.hosts).toEqual(['::1']);
});

test('a real server on :: reports an IPv6 address (the dual-stack socket)', async () => {
  const server = http.createServer();
  await listen(server, 0, '::');
  try {
    expect((server.address() as AddressInfo).family).toBe('IPv6');
  } finally {
    server.close();
  }
});
