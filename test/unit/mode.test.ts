import {
  GATE_NAME, computeMode, evaluateGate, gateEnabled, parseKubeVirtVersion, selectKubeVirt, staticState,
  stateFromKubeVirts, versionLine,
} from '../../src/webhook/admission/mode.js';
import type { Mode } from '../../src/webhook/admission/types.js';

/** A KubeVirt CR shaped like the real one (kubevirt.io/v1 KubeVirt). */
function kubevirt(opts: {
  name?: string;
  version?: string;
  phase?: string;
  listed?: string[];
  disabled?: string[];
  created?: string;
} = {}): Record<string, unknown> {
  const developerConfiguration: Record<string, unknown> = {};
  if (opts.listed) developerConfiguration.featureGates = opts.listed;
  if (opts.disabled) developerConfiguration.disabledFeatureGates = opts.disabled;
  const status: Record<string, unknown> = {};
  if (opts.phase !== '') status.phase = opts.phase ?? 'Deployed';
  if (opts.version !== undefined) status.observedKubeVirtVersion = opts.version;
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'KubeVirt',
    metadata: { name: opts.name ?? 'kubevirt', namespace: 'kubevirt', creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z' },
    spec: { configuration: { developerConfiguration } },
    status,
  };
}

describe('parseKubeVirtVersion', () => {
  test.each([
    ['v1.7.2', 1, 7, 2, undefined],
    ['1.8.0-alpha.0', 1, 8, 0, 'alpha.0'],
    ['v1.10.0-rc.1', 1, 10, 0, 'rc.1'],
    ['v1.4.1+build.7', 1, 4, 1, undefined],
    ['v1.9', 1, 9, 0, undefined],
    ['v1.6.0-12-gabc1234', 1, 6, 0, '12-gabc1234'],
    [' v1.5.3 ', 1, 5, 3, undefined],
  ])('%s → %i.%i.%i', (text, major, minor, patch, pre) => {
    const v = parseKubeVirtVersion(text);
    expect(v).toMatchObject({ major, minor, patch });
    expect(v?.prerelease).toBe(pre);
  });

  test.each([[''], ['   '], ['latest'], ['v1'], ['1.x.0'], ['v1.7.2 extra'], [undefined], [null], [17], [{}]])(
    'rejects %p as unknown',
    (text) => {
      expect(parseKubeVirtVersion(text)).toBeUndefined();
    },
  );

  test.each([
    ['v0.59.0', '<=1.4'],
    ['v1.0.1', '<=1.4'],
    ['v1.4.0', '<=1.4'],
    ['v1.5.0', '1.5-1.7'],
    ['v1.7.9', '1.5-1.7'],
    ['v1.8.0-alpha.0', '1.8'],
    ['v1.8.2', '1.8'],
    ['v1.9.0-rc.1', '1.9'],
    ['v1.9.1', '1.9'],
    ['v1.10.0', '>=1.10'],
    ['v1.12.0', '>=1.10'],
    ['v2.0.0', '>=1.10'],
  ])('%s is in line %s', (text, line) => {
    expect(versionLine(parseKubeVirtVersion(text))).toBe(line);
  });
  test('no version is line "unknown"', () => {
    expect(versionLine(undefined)).toBe('unknown');
  });
});

describe('gateEnabled: evaluated the way each KubeVirt version evaluates it', () => {
  const v = (s: string) => parseKubeVirtVersion(s);
  test('≤1.8: on iff listed; disabledFeatureGates cannot turn on nor off an alpha gate', () => {
    for (const version of ['v1.3.0', 'v1.7.2', 'v1.8.0-alpha.0', 'v1.8.1']) {
      expect(gateEnabled(kubevirt({ listed: [GATE_NAME] }), v(version))).toBe(true);
      expect(gateEnabled(kubevirt({ listed: ['CPUManager'] }), v(version))).toBe(false);
      expect(gateEnabled(kubevirt(), v(version))).toBe(false);
      expect(gateEnabled(kubevirt({ disabled: [GATE_NAME] }), v(version))).toBe(false);
      expect(gateEnabled(kubevirt({ listed: [GATE_NAME], disabled: [GATE_NAME] }), v(version))).toBe(true);
    }
  });
  test('1.9: listed > disabled > Beta on by default', () => {
    const v19 = v('v1.9.0');
    expect(evaluateGate(kubevirt(), v19)).toEqual({ enabled: true, why: 'Beta in KubeVirt 1.9, on by default' });
    expect(evaluateGate(kubevirt({ disabled: [GATE_NAME] }), v19)).toEqual({ enabled: false, why: 'listed in disabledFeatureGates' });
    expect(gateEnabled(kubevirt({ listed: [GATE_NAME], disabled: [GATE_NAME] }), v19)).toBe(true);
    expect(gateEnabled(kubevirt({ disabled: ['CPUManager'] }), v19)).toBe(true);
  });
  test('1.10+: GA, on even when disabled', () => {
    for (const version of ['v1.10.0', 'v1.10.0-rc.1', 'v1.11.3']) {
      expect(gateEnabled(kubevirt({ disabled: [GATE_NAME] }), v(version))).toBe(true);
      expect(gateEnabled(kubevirt(), v(version))).toBe(true);
    }
  });
  test('unknown version: only an explicit listing turns it on', () => {
    expect(gateEnabled(kubevirt({ listed: [GATE_NAME] }), undefined)).toBe(true);
    expect(gateEnabled(kubevirt(), undefined)).toBe(false);
  });
  test('malformed spec fields are read as empty, never thrown on', () => {
    const odd = { spec: { configuration: { developerConfiguration: { featureGates: GATE_NAME, disabledFeatureGates: [7, null] } } } };
    expect(gateEnabled(odd, v('v1.8.0'))).toBe(false);
    expect(gateEnabled(odd, v('v1.9.0'))).toBe(true);
    expect(gateEnabled(null, v('v1.9.0'))).toBe(true);
    expect(gateEnabled('junk', v('v1.7.0'))).toBe(false);
  });
  test('the gate name is matched exactly (case matters, as in KubeVirt)', () => {
    expect(gateEnabled(kubevirt({ listed: ['libvirthooksserverandclient'] }), v('v1.8.0'))).toBe(false);
  });
});

describe('computeMode: the table in docs/feature-gate.md', () => {
  type Row = [version: string | undefined, listed: boolean, disabled: boolean, site: boolean, mode: Mode, gate: boolean];
  const rows: Row[] = [
    // ≤1.4: no hooks in KubeVirt at all
    ['v1.3.1', true, false, false, 'inject', true],
    ['v1.4.0', false, false, false, 'off', false],
    // 1.5–1.7: KubeVirt does not know the gate; listing it is our enable switch
    ['v1.5.0', true, false, false, 'inject', true],
    ['v1.7.2', true, false, true, 'inject', true],
    ['v1.7.2', false, false, false, 'off', false],
    ['v1.6.4', false, true, false, 'off', false],
    // 1.8: alpha, buggy in-tree hooks → ours run after them
    ['1.8.0-alpha.0', true, false, false, 'inject', true],
    ['v1.8.1', false, false, false, 'off', false],
    ['v1.8.1', false, true, false, 'off', false],
    ['v1.8.1', true, true, false, 'inject', true],
    // 1.9: Beta, on by default → upstream hooks run → coexist
    ['v1.9.0', false, false, false, 'coexist', true],
    ['v1.9.0', false, false, true, 'coexist', true],
    ['v1.9.0-rc.1', true, false, false, 'coexist', true],
    ['v1.9.0', false, true, false, 'off', false],
    ['v1.9.0', true, true, false, 'coexist', true],
    // 1.10: GA → always coexist, even if "disabled"
    ['v1.10.0', false, false, false, 'coexist', true],
    ['v1.10.0', false, true, true, 'coexist', true],
    ['v1.10.0-rc.1', true, false, false, 'coexist', true],
    // unknown version: listed → inject (the safe side), else off
    [undefined, true, false, false, 'inject', true],
    [undefined, false, false, false, 'off', false],
    [undefined, false, true, false, 'off', false],
  ];
  test.each(rows)('KubeVirt %s listed=%s disabled=%s siteHooks=%s → %s (gate %s)', (version, listed, disabled, site, mode, gate) => {
    const cr = kubevirt({ listed: listed ? [GATE_NAME, 'CPUManager'] : ['CPUManager'], disabled: disabled ? [GATE_NAME] : [] });
    const state = computeMode({ cr, version: parseKubeVirtVersion(version), siteHooksConfigured: site });
    expect(state.mode).toBe(mode);
    expect(state.gateEnabled).toBe(gate);
    expect(state.kubevirtVersion).toBe(version);
    expect(state.reason.length).toBeGreaterThan(10);
  });

  test('reasons say what happens and why', () => {
    const at = (version: string, extra: Partial<Parameters<typeof kubevirt>[0]> = {}, site = false) =>
      computeMode({ cr: kubevirt(extra), version: parseKubeVirtVersion(version), siteHooksConfigured: site }).reason;
    expect(at('v1.7.2', { listed: [GATE_NAME] })).toMatch(/listed in featureGates.*no migration hooks of its own: injecting ours/);
    expect(at('v1.8.0', { listed: [GATE_NAME] })).toMatch(/alpha hooks: injecting ours after them/);
    expect(at('v1.8.0')).toMatch(/not listed in featureGates \(KubeVirt v1\.8\.0\)/);
    expect(at('v1.9.0')).toMatch(/Beta in KubeVirt 1\.9, on by default.*every configured hook is left to upstream: injecting nothing/);
    expect(at('v1.9.0', {}, true)).toMatch(/injecting only the hooks upstream lacks or does in part, after upstream's/);
    expect(at('v1.9.0', { disabled: [GATE_NAME] })).toMatch(/disabledFeatureGates/);
    expect(at('v1.10.0', { disabled: [GATE_NAME] })).toMatch(/GA in KubeVirt 1\.10\+, always on \(disabledFeatureGates has no effect/);
    expect(computeMode({ cr: kubevirt({ listed: [GATE_NAME] }), version: undefined, siteHooksConfigured: false }).reason)
      .toMatch(/version unknown: injecting \(the safe side\)/);
  });

  test('stepAside=false keeps our whole chain on 1.9+ (inject), and changes nothing where upstream has no hooks', () => {
    const onNine = computeMode({ cr: kubevirt(), version: parseKubeVirtVersion('v1.9.0'), siteHooksConfigured: false, stepAside: false });
    expect(onNine).toMatchObject({ mode: 'inject', gateEnabled: true });
    expect(onNine.reason).toMatch(/step-aside disabled/);
    const onSeven = computeMode({ cr: kubevirt({ listed: [GATE_NAME] }), version: parseKubeVirtVersion('v1.7.0'), siteHooksConfigured: false, stepAside: false });
    expect(onSeven.mode).toBe('inject');
    const offNine = computeMode({ cr: kubevirt({ disabled: [GATE_NAME] }), version: parseKubeVirtVersion('v1.9.0'), siteHooksConfigured: false, stepAside: false });
    expect(offNine.mode).toBe('off');
  });

  test('no CR → off', () => {
    expect(computeMode({ cr: undefined, version: undefined, siteHooksConfigured: true })).toEqual({
      mode: 'off', gateEnabled: false, reason: 'no KubeVirt CR with a status.phase',
    });
  });
});

describe('selectKubeVirt: the CR with a non-empty status.phase, as KubeVirt components pick it', () => {
  test('ignores CRs without a phase (a second CR next to a working one never gets one)', () => {
    const stray = kubevirt({ name: 'aaa-second', phase: '', listed: [GATE_NAME], created: '2025-01-01T00:00:00Z' });
    const real = kubevirt({ name: 'kubevirt', phase: 'Deployed' });
    expect(selectKubeVirt([stray, real])).toBe(real);
    expect(selectKubeVirt([stray])).toBeUndefined();
    expect(selectKubeVirt([])).toBeUndefined();
  });
  test('several with a phase: the oldest, then by name; independent of list order', () => {
    const older = kubevirt({ name: 'b', created: '2025-06-01T00:00:00Z' });
    const newer = kubevirt({ name: 'a', created: '2026-06-01T00:00:00Z' });
    expect(selectKubeVirt([newer, older])).toBe(older);
    expect(selectKubeVirt([older, newer])).toBe(older);
    const sameTimeB = kubevirt({ name: 'b' });
    const sameTimeA = kubevirt({ name: 'a' });
    expect(selectKubeVirt([sameTimeB, sameTimeA])).toBe(sameTimeA);
  });
  test('creationTimestamp as a Date (typed client objects) sorts like the string form', () => {
    const older = { ...kubevirt({ name: 'z' }), metadata: { name: 'z', creationTimestamp: new Date('2020-01-01T00:00:00Z') } };
    const newer = kubevirt({ name: 'a', created: '2024-01-01T00:00:00Z' });
    expect(selectKubeVirt([newer, older])).toBe(older);
  });
});

describe('stateFromKubeVirts', () => {
  test('reads the version from status.observedKubeVirtVersion of the selected CR', () => {
    const crs = [kubevirt({ name: 'x', phase: '', version: 'v1.10.0' }), kubevirt({ version: 'v1.7.2', listed: [GATE_NAME] })];
    expect(stateFromKubeVirts(crs, { siteHooksConfigured: false })).toMatchObject({ mode: 'inject', kubevirtVersion: 'v1.7.2' });
  });
  test('no CR, or none with a phase → off, saying which', () => {
    expect(stateFromKubeVirts([], { siteHooksConfigured: false, namespace: 'kubevirt' }))
      .toEqual({ mode: 'off', gateEnabled: false, reason: 'no KubeVirt CR in namespace kubevirt' });
    expect(stateFromKubeVirts([kubevirt({ phase: '' })], { siteHooksConfigured: false, namespace: 'openshift-cnv' }).reason)
      .toBe('no KubeVirt CR with a status.phase in namespace openshift-cnv (1 without)');
  });
  test('an unparseable version is quoted in the reason and treated as unknown', () => {
    const state = stateFromKubeVirts([kubevirt({ version: 'devel', listed: [GATE_NAME] })], { siteHooksConfigured: false });
    expect(state.mode).toBe('inject');
    expect(state.kubevirtVersion).toBeUndefined();
    expect(state.reason).toMatch(/status\.observedKubeVirtVersion "devel" not understood/);
  });
  test('stepAside is passed through', () => {
    expect(stateFromKubeVirts([kubevirt({ version: 'v1.10.0' })], { siteHooksConfigured: true, stepAside: false }).mode).toBe('inject');
  });
});

test('static sources', () => {
  expect(staticState('always')).toMatchObject({ mode: 'inject', gateEnabled: true });
  expect(staticState('never')).toMatchObject({ mode: 'off', gateEnabled: false });
});
