import { InputError } from '../../src/core/errors.js';
import { DEFAULT_HOOKS, findHook, HOOKS, REGISTRY, resolveHooks, type HookEntry } from '../../src/core/hooks/registry.js';

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

describe('HookRegistry as data', () => {
  const site = (name: string, upstream: HookEntry['upstream'] = { level: 'none', reason: 'test data' }): HookEntry => ({ name, description: 'a site hook for tests', source: 'site', defaultEnabled: false, upstream, appliesTo: () => true });

  test('site entries run after the built-ins, and only their names resolve', () => {
    const r = REGISTRY.with([site('site:b'), site('site:a')]);
    expect(r.names()).toEqual([...REGISTRY.names(), 'site:b', 'site:a']);
    expect(r.resolve(['site:a', REGISTRY.names()[0] as string]).map((e) => e.name)).toEqual([REGISTRY.names()[0], 'site:a']);
    expect(r.defaultNames()).toEqual(REGISTRY.defaultNames());
    expect(() => r.resolveHooks(['site:a'])).toThrow('hook "site:a" has no implementation in this process');
  });

  test('refuses duplicate names and names that do not match their source', () => {
    expect(() => REGISTRY.with([site('site:a'), site('site:a')])).toThrow('registered twice');
    expect(() => REGISTRY.with([site('a')])).toThrow('invalid hook name "a" for a site hook');
    expect(() => REGISTRY.with([site('site:A_b')])).toThrow('invalid hook name');
    expect(() => REGISTRY.with([{ ...site('site:x'), source: 'built-in' }])).toThrow('invalid hook name "site:x" for a built-in hook');
  });

  test('coexist mode keeps the hooks upstream lacks or does only in part, derived from the entries', () => {
    const r = REGISTRY.with([site('site:tuning'), site('site:same', { level: 'equivalent', reason: 'test data' })]);
    const all = r.names();
    expect(r.forMode('inject', all)).toEqual(all);
    expect(r.forMode('coexist', all)).toEqual(r.entries.filter((e) => e.upstream.level !== 'equivalent').map((e) => e.name));
    expect(r.forMode('coexist', all)).toContain('site:tuning');
    expect(r.forMode('coexist', all)).not.toContain('site:same');
    expect(() => r.forMode('inject', ['nope'])).toThrow('unknown hook "nope"');
  });

  test('a partial hook the admin trusts upstream for is left to upstream in coexist mode only', () => {
    const all = REGISTRY.names();
    expect(REGISTRY.find('cpu-dedicated')?.upstream.level).toBe('partial');
    expect(REGISTRY.forMode('coexist', all)).toEqual(['cpu-dedicated', 'disk-namespace']);
    expect(REGISTRY.forMode('coexist', all, { trustUpstream: ['cpu-dedicated'] })).toEqual(['disk-namespace']);
    expect(REGISTRY.forMode('inject', all, { trustUpstream: ['cpu-dedicated'] })).toEqual(all);
  });

  test('applicable() keeps the hooks whose rule holds, and a rule that throws does not apply', () => {
    const r = REGISTRY.with([
      site('site:yes'),
      { ...site('site:boom'), appliesTo: () => { throw new Error('cannot read'); } },
    ]);
    expect(r.applicable({ metadata: {}, spec: {} }, r.names())).toEqual(['site:yes']);
  });
});
