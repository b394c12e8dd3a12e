/**
 * Site hooks at admission (src/webhook/admission/site-hooks.ts and their use in admit()):
 * selection by pod labels and namespace labels over many SiteHooks, run order, delivery in the
 * injected containers' env with its digest in the marker, coexist mode injecting for a matching
 * SiteHook only, and the injected server's flags and env accepted by the real server settings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSiteHooks, deliveryDigest, parseDelivery, SITE_HOOKS_ENV, type CompiledSiteHook } from '../../src/core/site-hooks/index.js';
import { parseServerSettings } from '../../src/server/settings.js';
import { admit, type AdmitState } from '../../src/webhook/admission/admit.js';
import { INJECTED_ANNOTATION } from '../../src/webhook/admission/names.js';
import { selectSiteHooks, siteHookDelivery } from '../../src/webhook/admission/site-hooks.js';
import type { GateState } from '../../src/webhook/admission/types.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const pod = (): Json => JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/pods/kv110-dedicated-cpu.json'), 'utf8')) as Json;
const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0']).inject;
/** Only disk-namespace enabled, which does not apply to this pod (not a decentralized target): site hooks alone decide. */
const onlyDiskNamespace = parseWebhookSettings(['--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0', '--hooks', 'disk-namespace']).inject;
const COEXIST: GateState = { mode: 'coexist', gateEnabled: true, kubevirtVersion: 'v1.9.0', reason: 'test' };
const INJECT: GateState = { mode: 'inject', gateEnabled: true, kubevirtVersion: 'v1.7.1', reason: 'test' };
const edit = { select: 'cputune/shares', remove: true };
const hooks = (objs: Array<{ name: string; spec: Json }>): CompiledSiteHook[] => compileSiteHooks(objs.map((o) => ({ name: o.name, spec: { edits: [edit], ...o.spec } })));

function review(object: unknown): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'vms', operation: 'CREATE', object },
  };
}
const patchOf = (out: Json): Json[] => JSON.parse(Buffer.from(out.response.patch as string, 'base64').toString('utf8')) as Json[];
/** Our server container, wherever the sidecar shape put it (classic: a container; native: an init container). */
const ours = (patch: Json[]): Json => patch.find((op) => /^\/spec\/(init)?[cC]ontainers\/-$/.test(op.path as string) && op.value?.name === 'premigration-hooks')!.value as Json;
const marker = (patch: Json[]): Json => JSON.parse(patch.find((op) => String(op.path).endsWith(INJECTED_ANNOTATION.replace('/', '~1')))!.value as string) as Json;

describe('selection', () => {
  test('over many SiteHooks: pod selector, namespace selector, order then name', () => {
    const many = hooks(
      Array.from({ length: 60 }, (_, i) => ({
        name: `h${String(i).padStart(2, '0')}`,
        spec: {
          order: i % 3,
          ...(i % 4 === 0 ? { selector: { matchLabels: { 'vm.kubevirt.io/name': 'rt-guest' } } } : {}),
          ...(i % 4 === 1 ? { selector: { matchLabels: { 'vm.kubevirt.io/name': 'other' } } } : {}),
          ...(i % 4 === 2 ? { selector: { matchExpressions: [{ key: 'kubevirt.io/domain', operator: 'In', values: ['rt-guest', 'x'] }] } } : {}),
          ...(i % 5 === 0 ? { namespaceSelector: { matchLabels: { tier: 'gold' } } } : {}),
        },
      })),
    );
    const selectedGold = selectSiteHooks(many, pod(), { tier: 'gold' });
    const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 4 !== 1);
    expect(selectedGold.map((h) => h.name).sort()).toEqual(expected.map((i) => `h${String(i).padStart(2, '0')}`).sort());
    // Run order: order ascending, then name.
    const orders = selectedGold.map((h) => [h.spec.order, h.name] as const);
    expect(orders).toEqual([...orders].sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1])));
    // Namespace labels unknown or not matching: those with a namespaceSelector are left out.
    for (const ns of [undefined, { tier: 'bronze' }]) {
      expect(selectSiteHooks(many, pod(), ns).map((h) => h.name).sort()).toEqual(expected.filter((i) => i % 5 !== 0).map((i) => `h${String(i).padStart(2, '0')}`).sort());
    }
  });
});

describe('admit with SiteHooks', () => {
  const site = hooks([{ name: 'tuning', spec: { selector: { matchLabels: { 'vm.kubevirt.io/name': 'rt-guest' } } } }, { name: 'elsewhere', spec: { selector: { matchLabels: { 'vm.kubevirt.io/name': 'other' } } } }]);
  const state = (gate: GateState, siteHooks: CompiledSiteHook[] = site): AdmitState => ({ gate, settings: gate.mode === 'coexist' ? onlyDiskNamespace : settings, siteHooks });

  test('coexist: a matching SiteHook makes the pod injectable; only the site hook is listed', () => {
    const { review: out, outcome } = admit(review(pod()), state(COEXIST));
    expect(outcome).toMatchObject({ result: 'injected', reason: 'coexist' });
    const patch = patchOf(out);
    const c = ours(patch);
    expect(c.args).toContain('--hooks');
    expect(c.args[c.args.indexOf('--hooks') + 1]).toBe('site:tuning');
    const value = (c.env as Json[]).find((e) => e.name === SITE_HOOKS_ENV)!.value as string;
    expect(parseDelivery(value).map((h) => h.name)).toEqual(['tuning']);
    expect(marker(patch)).toMatchObject({ mode: 'coexist', hooks: ['site:tuning'], siteHooks: deliveryDigest(value) });
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'PREMIGRATION_HOOKS_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'PREMIGRATION_HOOKS_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'PREMIGRATION_HOOKS_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'PREMIGRATION_HOOKS_VMI_NAME', value: 'rt-guest' },
    ]));
    // Each variable once (the identity env is inject.ts's, the site-hook env adds the rest).
    const names = (c.env as Json[]).map((e) => e.name as string);
    expect(new Set(names).size).toBe(names.length);
  });

  test('namespaceSelector on the labels admit() is given for the request namespace: matches, does not match, unknown namespace', () => {
    const byNs = hooks([{
      name: 'gold',
      spec: { namespaceSelector: { matchLabels: { tier: 'gold' }, matchExpressions: [{ key: 'team', operator: 'In', values: ['rt', 'net'] }, { key: 'frozen', operator: 'DoesNotExist' }] } },
    }]);
    const known: Record<string, Record<string, string>> = {
      vms: { tier: 'gold', team: 'rt' },
      bronze: { tier: 'bronze', team: 'rt' },
      frozen: { tier: 'gold', team: 'rt', frozen: 'yes' },
    };
    const asked: string[] = [];
    const inNs = (ns: string): Json => {
      const r = review(pod());
      r.request.namespace = ns;
      return r;
    };
    const run = (ns: string): Json => admit(inNs(ns), {
      ...state(COEXIST, byNs),
      namespaceLabels: (n) => {
        asked.push(n);
        return known[n];
      },
    }).outcome;
    expect(run('vms')).toMatchObject({ result: 'injected', hooks: ['site:gold'] });
    // The request's namespace is the one looked up (not the pod's metadata.namespace).
    expect(asked).toEqual(['vms']);
    expect(run('bronze')).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
    expect(run('frozen')).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
    // Unknown (not listed yet, or not seen): fail safe, not selected.
    expect(run('nowhere')).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
    // No namespace watch at all: the same.
    expect(admit(review(pod()), state(COEXIST, byNs)).outcome).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
  });

  test('coexist: no matching SiteHook (or none at all) injects nothing', () => {
    for (const s of [hooks([{ name: 'elsewhere', spec: { selector: { matchLabels: { 'vm.kubevirt.io/name': 'other' } } } }]), []]) {
      const { review: out, outcome } = admit(review(pod()), state(COEXIST, s));
      expect(outcome).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
      expect(out.response.patch).toBeUndefined();
    }
  });

  test('inject: the applicable built-ins and then the selected site hooks; without SiteHooks the patch has no site env', () => {
    const { review: out } = admit(review(pod()), state(INJECT));
    const c = ours(patchOf(out));
    expect(c.args[c.args.indexOf('--hooks') + 1]).toBe('cpu-dedicated,site:tuning');
    const plain = ours(patchOf(admit(review(pod()), state(INJECT, [])).review));
    expect((plain.env as Json[]).map((e) => e.name).filter((n) => n.includes('SITE') || n.endsWith('NODE_NAME') || n.endsWith('POD_NAME'))).toEqual([]);
  });

  test('the injected server accepts its own flags and env (the delivery contract end to end)', () => {
    const c = ours(patchOf(admit(review(pod()), state(COEXIST)).review));
    const env: Record<string, string> = { PREMIGRATION_HOOKS_NODE_NAME: 'worker-1', PREMIGRATION_HOOKS_POD_NAME: 'virt-launcher-rt-guest-x', PREMIGRATION_HOOKS_POD_NAMESPACE: 'vms' };
    for (const e of c.env as Json[]) if (typeof e.value === 'string') env[e.name as string] = e.value;
    const s = parseServerSettings((c.args as string[]).slice(1), env, { clientBinary: '/bin/true' }, '/');
    expect(s.hooks).toEqual(['site:tuning']);
    expect(s.siteHooks?.map((h) => h.name)).toEqual(['tuning']);
    expect(s.siteHookFacts).toEqual({ 'node.name': 'worker-1', 'pod.name': 'virt-launcher-rt-guest-x', 'pod.namespace': 'vms', 'vmi.name': 'rt-guest' });
  });

  test('above the 64 KiB bound: no patch, result error with its own reason', () => {
    const big = compileSiteHooks(Array.from({ length: 20 }, (_, i) => ({ name: `big${i}`, spec: { edits: [{ select: 'metadata', appendXML: `<s:x xmlns:s="urn:s">${'y'.repeat(4000)}</s:x>` }] } })));
    expect('error' in siteHookDelivery(big)).toBe(true);
    const { review: out, outcome } = admit(review(pod()), state(COEXIST, big));
    expect(outcome).toMatchObject({ result: 'error', reason: 'site-hooks-too-large' });
    expect(out.response).toEqual({ uid: 'u1', allowed: true });
  });
});
