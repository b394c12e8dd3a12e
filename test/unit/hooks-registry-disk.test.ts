import { InputError } from '../../src/core/errors.js';
import { diskNamespaceHook } from '../../src/core/hooks/disk-namespace.js';
import { DEFAULT_HOOKS, findHook, HOOKS, resolveHooks } from '../../src/core/hooks/registry.js';
import type { HookContext } from '../../src/core/hooks/types.js';
import { DomainXml } from '../../src/core/xml/index.js';

describe('registry', () => {
  test('fixes the order: cpu-dedicated, then disk-namespace (KubeVirt\'s target-side order)', () => {
    expect(HOOKS.map((h) => h.name)).toEqual(['cpu-dedicated', 'disk-namespace']);
    expect(DEFAULT_HOOKS).toEqual(['cpu-dedicated', 'disk-namespace']);
  });

  test('resolves names in any order, once each, in registry order', () => {
    expect(resolveHooks(['disk-namespace', 'cpu-dedicated', 'disk-namespace']).map((h) => h.name)).toEqual(['cpu-dedicated', 'disk-namespace']);
    expect(resolveHooks(undefined).map((h) => h.name)).toEqual([...DEFAULT_HOOKS]);
    expect(findHook('cpu-dedicated')?.name).toBe('cpu-dedicated');
    expect(findHook('nope')).toBeUndefined();
  });

  test('unknown names are an InputError listing the valid ones', () => {
    expect(() => resolveHooks(['a', 'b'])).toThrow(new InputError('unknown hooks "a", "b"; valid hooks: cpu-dedicated, disk-namespace'));
  });

  test('every hook has a kebab-case name and a description', () => {
    for (const hook of HOOKS) {
      expect(hook.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(hook.description.length).toBeGreaterThan(10);
    }
  });
});

describe('disk-namespace', () => {
  const host = { online: [0], cells: [{ id: 0, cpus: [0], hugepages: [], memoryOnly: false }], cpus: new Map() };
  const ctx = (sourceNamespace?: string, targetNamespace?: string): HookContext => ({ cpuset: [0], host, ...(sourceNamespace ? { sourceNamespace } : {}), ...(targetNamespace ? { targetNamespace } : {}) });
  const doc = () => DomainXml.parse("<domain><devices><disk><source file='/d/ns-a/x.img'/></disk></devices></domain>");

  test('applies only when both namespaces are given and differ', () => {
    expect(diskNamespaceHook.appliesTo(doc(), ctx())).toBe(false);
    expect(diskNamespaceHook.appliesTo(doc(), ctx('ns-a'))).toBe(false);
    expect(diskNamespaceHook.appliesTo(doc(), ctx('ns-a', 'ns-a'))).toBe(false);
    expect(diskNamespaceHook.appliesTo(doc(), ctx('ns-a', 'ns-b'))).toBe(true);
  });

  test('a namespace that is not a Kubernetes name (e.g. with a slash) is an InputError', () => {
    expect(() => diskNamespaceHook.appliesTo(doc(), ctx('ns-a', '../etc'))).toThrow(new InputError('target namespace "../etc" is not a valid Kubernetes namespace name'));
  });

  test('rewrites the path and reports it', () => {
    const d = doc();
    expect(diskNamespaceHook.apply(d, ctx('ns-a', 'ns-b'))).toEqual([{ hook: 'disk-namespace', path: '/domain/devices/disk[1]/source/@file', before: '/d/ns-a/x.img', after: '/d/ns-b/x.img' }]);
    expect(d.serialize()).toBe("<domain><devices><disk><source file='/d/ns-b/x.img'/></disk></devices></domain>");
  });
});
