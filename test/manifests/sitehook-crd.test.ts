/**
 * The SiteHook CRD as kustomize renders it: shape, printer columns, status, the OpenAPI schema
 * (through ajv, on every site-hook golden and docs example), the CEL rules' regular expressions
 * (evaluated here with JavaScript's engine; each pattern is in the subset RE2 and JavaScript
 * share) against the same forbidden targets the core refuses, and the editor ClusterRole.
 * No kube-apiserver runs here, so CEL itself (has(), filter, size) is not evaluated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments } from 'yaml';
import { FACTS } from '../../src/core/site-hooks/index.js';
import { FORBIDDEN_IN_FRAGMENTS } from '../../src/core/site-hooks/allow.js';
import { all, at, buildOverlay, one, REPO_ROOT, type K8sObject } from './kustomize.js';

const objects = buildOverlay('default');
const crd = one(objects, 'CustomResourceDefinition', 'sitehooks.premigration-hooks.kubevirt.io');
const version = at<Record<string, unknown>[]>(crd, 'spec', 'versions')[0]!;
const schema = at<Record<string, unknown>>(version, 'schema', 'openAPIV3Schema');
const GOLDEN = path.join(REPO_ROOT, 'test/golden/site-hooks');

type Rule = { rule: string; message: string };
function rulesOf(node: unknown, out: Rule[] = []): Rule[] {
  if (node === null || typeof node !== 'object') return out;
  const o = node as Record<string, unknown>;
  if (Array.isArray(o['x-kubernetes-validations'])) out.push(...(o['x-kubernetes-validations'] as Rule[]));
  for (const v of Object.values(o)) rulesOf(v, out);
  return out;
}
const editRules = rulesOf(at(schema, 'properties', 'spec', 'properties', 'edits', 'items'));

/** OpenAPI v3 structural schema → JSON Schema for ajv (x-kubernetes-* dropped, nullable ignored). */
function jsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(jsonSchema);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).filter(([k]) => !k.startsWith('x-kubernetes-')).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, jsonSchema(pv)])) : jsonSchema(v)]));
}
// CommonJS packages: under ESM their default export is the module object.
const Ajv = (AjvModule as unknown as { default: typeof AjvModule.default }).default;
const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule.default }).default;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat('int32', true);
ajv.addFormat('int64', true);
const validate = ajv.compile(jsonSchema(schema) as object);

function siteHookDocs(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}
const cases = readdirSync(GOLDEN).filter((n) => !n.includes('.'));
const okCases = cases.filter((n) => !n.startsWith('refuse-') && n !== 'allowed-but-abi' && n !== 'with-built-ins');
const docExamples = siteHookDocs(path.join(REPO_ROOT, 'docs/examples/site-hooks.yaml'));

/** A CEL raw-string regex r'…' out of a rule, as a JavaScript RegExp. */
function celRegex(rule: string): RegExp {
  const m = /r'((?:[^'\\]|\\.)*)'/.exec(rule);
  if (!m) throw new Error(`no raw regex in ${rule}`);
  return new RegExp(m[1]!);
}
const ruleFor = (needle: string): Rule => {
  const r = editRules.find((x) => x.rule.includes(needle));
  if (!r) throw new Error(`no rule with ${needle}`);
  return r;
};

describe('SiteHook CRD', () => {
  test('cluster-scoped, one served storage version v1alpha1 with status, printer columns', () => {
    expect(at(crd, 'spec', 'scope')).toBe('Cluster');
    expect(at(crd, 'spec', 'group')).toBe('premigration-hooks.kubevirt.io');
    expect(at(crd, 'spec', 'names')).toMatchObject({ kind: 'SiteHook', plural: 'sitehooks' });
    expect(at<unknown[]>(crd, 'spec', 'versions')).toHaveLength(1);
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    expect(at<{ name: string }[]>(version, 'additionalPrinterColumns').map((c) => c.name)).toEqual(['Order', 'OnError', 'Accepted', 'Reason', 'Age']);
    expect(at(schema, 'properties', 'status', 'properties', 'conditions', 'x-kubernetes-list-map-keys')).toEqual(['type']);
  });

  test.each([...okCases.map((n) => [n, path.join(GOLDEN, n, 'site-hooks.yaml')]), ['docs/examples/site-hooks.yaml', path.join(REPO_ROOT, 'docs/examples/site-hooks.yaml')]])('%s passes the OpenAPI schema', (_n, file) => {
    for (const o of siteHookDocs(file)) expect([o.metadata.name, validate(o), validate.errors]).toEqual([o.metadata.name, true, null]);
  });

  test.each([
    ['no edits', { spec: { edits: [] } }],
    ['a bad onError', { spec: { onError: 'retry', edits: [{ select: 'metadata', remove: true }] } }],
    ['remove: false', { spec: { edits: [{ select: 'metadata', remove: false }] } }],
    ['an order out of range', { spec: { order: 2000000, edits: [{ select: 'metadata', remove: true }] } }],
    ['a select that is too long', { spec: { edits: [{ select: 'a'.repeat(1025), remove: true }] } }],
    ['no spec', {}],
  ])('the schema rejects %s', (_n, body) => {
    expect(validate({ apiVersion: 'premigration-hooks.kubevirt.io/v1alpha1', kind: 'SiteHook', metadata: { name: 'x' }, ...body })).toBe(false);
  });

  test('every CEL rule has a message, and the docs examples and goldens pass the regex rules', () => {
    for (const r of rulesOf(schema)) expect(r.message.length).toBeGreaterThan(10);
    const selectRules = editRules.filter((r) => r.rule.includes('self.select.matches') && !r.rule.includes('appendXML'));
    const fragmentRule = ruleFor('self.appendXML.matches(r\'<');
    const factRules = editRules.filter((r) => r.rule.includes('node\\.name'));
    expect(factRules).toHaveLength(2);
    const edits = [...okCases.flatMap((n) => siteHookDocs(path.join(GOLDEN, n, 'site-hooks.yaml'))), ...docExamples].flatMap((o) => at<Record<string, string>[]>(o, 'spec', 'edits'));
    for (const e of edits) {
      for (const r of selectRules) expect([e.select, celRegex(r.rule).test(e.select!)]).toEqual([e.select, false]);
      if (e.appendXML !== undefined) expect(celRegex(fragmentRule.rule).test(e.appendXML)).toBe(false);
      for (const v of [e.set, e.appendXML]) if (v !== undefined) expect([v, celRegex(factRules[0]!.rule).test(v)]).toEqual([v, true]);
    }
  });

  test('the CEL regexes refuse the forbidden targets the core refuses', () => {
    const selectRules = editRules.filter((r) => r.rule.includes('self.select.matches') && !r.rule.includes('appendXML'));
    const caught = (select: string): boolean => selectRules.some((r) => celRegex(r.rule).test(select));
    for (const s of ['qemu:commandline', '/domain/qemu:override/qemu:device', 'seclabel/@type', 'devices/disk/source/seclabel', 'devices/graphics/listen/@address', 'devices/serial[1]/@type', '/domain/devices/channel/source']) expect([s, caught(s)]).toEqual([s, true]);
    expect(celRegex(ruleFor("!self.select.matches(r'(^|/)@").rule).test("devices/disk[@type='file']/source/@file")).toBe(true);
    expect(celRegex(ruleFor("!self.select.matches(r'(^|/)@").rule).test("devices/disk[@type='file']")).toBe(false);
    const fragment = celRegex(ruleFor("self.appendXML.matches(r'<").rule);
    for (const name of FORBIDDEN_IN_FRAGMENTS) {
      expect([name, fragment.test(`<x:a xmlns:x="u"><${name} type='x'/></x:a>`)]).toEqual([name, true]);
      expect([name, fragment.test(`<x:a xmlns:x="u"><q:${name}/></x:a>`)]).toEqual([name, true]);
    }
    expect(fragment.test('<x:diskinfo xmlns:x="u"/>')).toBe(false);
  });

  test('the fact regex knows exactly the core\'s facts and reads $${ as a literal', () => {
    const re = celRegex(ruleFor('node\\.name').rule);
    for (const f of FACTS) expect(re.test(`a/\${${f}}/b`)).toBe(true);
    for (const bad of ['${node.zone}', '${node.name', 'x${}']) expect([bad, re.test(bad)]).toEqual([bad, false]);
    for (const ok of ['$${node.zone}', 'a$b', 'cost: 5$', '$$x']) expect([ok, re.test(ok)]).toEqual([ok, true]);
  });
});

describe('ClusterRole premigration-hooks-sitehook-editor', () => {
  const role = one(objects, 'ClusterRole', 'premigration-hooks-sitehook-editor');
  test('writes sitehooks and nothing else', () => {
    expect(at(role, 'rules')).toEqual([{ apiGroups: ['premigration-hooks.kubevirt.io'], resources: ['sitehooks'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }]);
  });
  test('is not aggregated to admin/edit/view and bound to nobody by default', () => {
    expect(Object.keys(role.metadata.labels ?? {}).filter((k) => k.startsWith('rbac.authorization.k8s.io/aggregate-to'))).toEqual([]);
    expect(role).not.toHaveProperty('aggregationRule');
    expect(all(objects, 'ClusterRoleBinding').map((b) => at(b, 'roleRef', 'name'))).not.toContain('premigration-hooks-sitehook-editor');
  });
});

describe('SiteHook admission and the webhook\'s SiteHook RBAC', () => {
  test('ValidatingWebhookConfiguration premigration-hooks-sitehooks: failurePolicy Fail, our service and CA, path /validate-sitehook', async () => {
    const { SITEHOOK_VALIDATE_PATH } = await import('../../src/webhook/http/sitehook-validate-http.js');
    const vwc = one(objects, 'ValidatingWebhookConfiguration', 'premigration-hooks-sitehooks');
    const pods = one(objects, 'ValidatingWebhookConfiguration', 'premigration-hooks');
    const w = at<Record<string, any>[]>(vwc, 'webhooks')[0]!; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(w.failurePolicy).toBe('Fail');
    expect(w.rules).toEqual([{ apiGroups: ['premigration-hooks.kubevirt.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['sitehooks'], scope: 'Cluster' }]);
    expect(w.clientConfig).toEqual({ service: { ...at<Record<string, unknown>>(pods, 'webhooks', 0, 'clientConfig', 'service'), path: SITEHOOK_VALIDATE_PATH } });
    expect(vwc.metadata.annotations).toEqual(pods.metadata.annotations);
  });
  test('the webhook may list/watch sitehooks and update their status, nothing more', () => {
    const role = one(objects, 'ClusterRole', 'premigration-hooks-webhook-sitehooks');
    expect(at(role, 'rules')).toEqual([
      { apiGroups: ['premigration-hooks.kubevirt.io'], resources: ['sitehooks'], verbs: ['list', 'watch'] },
      { apiGroups: ['premigration-hooks.kubevirt.io'], resources: ['sitehooks/status'], verbs: ['update'] },
    ]);
    const binding = one(objects, 'ClusterRoleBinding', 'premigration-hooks-webhook-sitehooks');
    const sa = one(objects, 'ServiceAccount');
    expect(at(binding, 'subjects')).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    expect(at(binding, 'roleRef', 'name')).toBe(role.metadata.name);
  });
});
