/**
 * The real server process with site hooks delivered as the webhook delivers them (the value of
 * PREMIGRATION_HOOKS_SITE_HOOKS, here through its flag --site-hooks-json): they run after the
 * built-ins as site:<name>, with their own log fields and metrics, and a bad delivery or a
 * missing fact stops the server at start with one line.
 */
import { compileSiteHooks, renderDelivery } from '../../src/core/site-hooks/index.js';
import { CLI, CLIENT, PINNED_DOMAIN, httpRequest, killStarted, postDomain, removeDir, requireBuilt, spawnServer, startServer, tempDir } from './server-harness.js';

beforeAll(() => requireBuilt(CLI, CLIENT));

const DELIVERY = renderDelivery(
  compileSiteHooks([
    { name: 'stamp', spec: { order: 1, edits: [{ select: 'metadata', appendXML: '<s:at xmlns:s="urn:s" node="${node.name}" cpus="${cpuset}" numa="${numa.nodes}"/>' }] } },
    { name: 'strict', spec: { order: 2, edits: [{ select: "devices/disk[target/@dev='vdz']/source/@file", set: '/x', require: true }] } },
  ]),
);
const WITH_METADATA = PINNED_DOMAIN.replace('<memory', '<metadata>\n    <k:x xmlns:k="urn:k"/>\n  </metadata>\n  <memory');

describe('hook server with site hooks', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('pmh-site-');
  });
  afterEach(async () => {
    await killStarted();
    removeDir(dir);
  });

  test('site hooks run after the built-ins; a refusing one is a 422 naming it; metrics per site hook', async () => {
    const okOnly = renderDelivery(compileSiteHooks([{ name: 'stamp', spec: { edits: [{ select: 'metadata', appendXML: '<s:at xmlns:s="urn:s" node="${node.name}" cpus="${cpuset}" numa="${numa.nodes}"/>' }] } }]));
    const server = await startServer({ dir, args: ['--site-hooks-json', okOnly, '--node-name', 'worker-3'] });
    const r = await postDomain(server.socket, WITH_METADATA, '0-3', 'default_vm-dedicated');
    expect(r.status).toBe(200);
    expect(r.body).toContain(`<vcpupin vcpu='0' cpuset='0'/>`);
    expect(r.body).toContain('<s:at xmlns:s="urn:s" node="worker-3" cpus="0-3" numa="0"/>');
    const line = server.logs().find((l) => l.msg === 'migrate-begin');
    expect(line?.hooks).toEqual(['cpu-dedicated', 'site:stamp']);
    // One audit line per application of a site hook that changed the domain.
    expect(server.logs().filter((l) => l.msg === 'site hook applied')).toEqual([
      expect.objectContaining({ hook: 'site:stamp', changes: ['/domain/metadata/s:at: (none)→<s:at xmlns:s="urn:s" node="worker-3" cpus="0-3" numa="0"/>'] }),
    ]);
    const ready = server.logs().find((l) => l.msg === 'hook server ready');
    expect(ready?.hooks).toEqual(['cpu-dedicated', 'disk-namespace', 'site:stamp']);
    const m = await httpRequest(server.socket, { method: 'GET', path: '/metrics' });
    expect(m.body).toContain('premigration_hooks_hook_runs_total{hook="site:stamp",result="changed"} 1');
  });

  test('require that matches nothing: 422 with the site hook named', async () => {
    const server = await startServer({ dir, args: ['--site-hooks-json', DELIVERY, '--node-name', 'worker-3'] });
    const r = await postDomain(server.socket, WITH_METADATA, '0-3');
    expect(r.status).toBe(422);
    expect((JSON.parse(r.body) as { error: string }).error).toBe(`site:strict: edit 1 (select "devices/disk[target/@dev='vdz']/source/@file"): matched nothing (require: true)`);
    const m = await httpRequest(server.socket, { method: 'GET', path: '/metrics' });
    expect(m.body).toContain('premigration_hooks_refusals_total{hook="site:strict"} 1');
  });

  test('--hooks may name delivered site hooks only (coexist mode on 1.9+): the built-ins do not run', async () => {
    const okOnly = renderDelivery(compileSiteHooks([{ name: 'stamp', spec: { edits: [{ select: 'metadata', appendXML: '<s:at xmlns:s="urn:s" node="${node.name}"/>' }] } }]));
    const server = await startServer({ dir, args: ['--site-hooks-json', okOnly, '--node-name', 'w', '--hooks', 'site:stamp'] });
    const r = await postDomain(server.socket, WITH_METADATA, '0-3');
    expect(r.status).toBe(200);
    expect(r.body).toContain(`<vcpupin vcpu='0' cpuset='12'/>`); // cpu-dedicated did not run
    expect(r.body).toContain('<s:at xmlns:s="urn:s" node="w"/>');
    const bad = spawnServer({ dir, socket: `${dir}/b.sock`, args: ['--site-hooks-json', okOnly, '--node-name', 'w', '--hooks', 'site:other'] });
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toMatch(/unknown hook "site:other"; valid hooks: cpu-dedicated, disk-namespace, site:stamp/);
  });

  test.each([
    ['a fact the site hooks use is not set', ['--site-hooks-json', DELIVERY], /site hook stamp uses \$\{node.name\}, but --node-name \(PREMIGRATION_HOOKS_NODE_NAME\) is not set/],
    ['the value is not the format', ['--site-hooks-json', '{"version":7}'], /--site-hooks-json: PREMIGRATION_HOOKS_SITE_HOOKS: unsupported version 7/],
    ['a site hook outside this server\'s allow-list', ['--site-hooks-json', '{"siteHooks":[{"name":"x","spec":{"edits":[{"select":"devices/disk/target/@dev","set":"a"}],"order":0}}],"version":1}'], /not on the allow-list/],
  ])('refuses to start when %s (exit 2, one line)', async (_what, args, message) => {
    const server = spawnServer({ dir, args });
    expect((await server.exited).code).toBe(2);
    const lines = server.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
