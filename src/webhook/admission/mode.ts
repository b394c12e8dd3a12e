/**
 * KubeVirt CR + version → GateState. Pure: no I/O, total over any JSON (the CR comes off the wire).
 *
 * The rules (docs/feature-gate.md has the table an admin reads):
 * - The product's single switch is KubeVirt's own gate name, LibvirtHooksServerAndClient.
 * - How KubeVirt evaluates a gate depends on its version: ≤1.8 "on iff listed (or GA)";
 *   1.9+ "GA > listed > disabled > Beta-on-by-default". The gate is Alpha in 1.8, Beta (on by
 *   default) in 1.9 and GA (always on) in 1.10. KubeVirt ≤1.7 has no gate of that name: there the
 *   listing is read by us alone, as the admin's enable switch.
 * - Whether KubeVirt runs working hooks of its own decides between `inject` (it does not: ≤1.7,
 *   and the buggy 1.8 alpha) and `coexist` (1.9+, gate in effect: upstream re-pins; we add only
 *   the hooks it lacks or does only in part, chained after its client).
 */
import type { GateState, Mode } from './types.js';
import { type JsonObject as Json } from '../../shared/json.js';

export const GATE_NAME = 'LibvirtHooksServerAndClient';

export interface KubeVirtVersion {
  major: number;
  minor: number;
  patch: number;
  /** "alpha.0", "rc.1", "12-gabc123" (git describe); undefined for a release. */
  prerelease?: string;
  raw: string;
}

// v1.7.2, 1.8.0-alpha.0, v1.10.0-rc.1, v1.4.1+build, v1.9 (no patch). Nothing else.
const VERSION_RE = /^v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** undefined for empty, missing or unparseable text: callers decide what "unknown" means. */
export function parseKubeVirtVersion(text: unknown): KubeVirtVersion | undefined {
  if (typeof text !== 'string') return undefined;
  const raw = text.trim();
  const m = VERSION_RE.exec(raw);
  if (!m) return undefined;
  const version: KubeVirtVersion = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), raw };
  if (m[4] !== undefined) version.prerelease = m[4];
  return version;
}

/**
 * The release line a version belongs to, as far as hooks are concerned. A pre-release counts as
 * its own line (1.9.0-rc.1 is 1.9): that is the code it runs.
 */
export type VersionLine = '<=1.4' | '1.5-1.7' | '1.8' | '1.9' | '>=1.10' | 'unknown';

export function versionLine(v: KubeVirtVersion | undefined): VersionLine {
  if (!v) return 'unknown';
  if (v.major === 0 || (v.major === 1 && v.minor <= 4)) return '<=1.4';
  if (v.major > 1 || v.minor >= 10) return '>=1.10';
  if (v.minor <= 7) return '1.5-1.7';
  return v.minor === 8 ? '1.8' : '1.9';
}

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function developerConfiguration(cr: unknown): Json {
  return obj(obj(obj(obj(cr).spec).configuration).developerConfiguration);
}

/** Names in spec.configuration.developerConfiguration.featureGates. */
export function listedGates(cr: unknown): string[] {
  return strings(developerConfiguration(cr).featureGates);
}

/** Names in spec.configuration.developerConfiguration.disabledFeatureGates (a 1.8+ field). */
export function disabledGates(cr: unknown): string[] {
  return strings(developerConfiguration(cr).disabledFeatureGates);
}

export interface GateEvaluation {
  enabled: boolean;
  /** Why, in a few words: "GA in 1.10+", "listed", "disabled", "Beta, on by default", "not listed". */
  why: string;
}

/**
 * Is LibvirtHooksServerAndClient in effect, evaluated the way this KubeVirt version evaluates it?
 * Unknown version: only an explicit listing turns it on (the ≤1.8 rule, the one that never assumes
 * a default the cluster may not have).
 */
export function evaluateGate(cr: unknown, version: KubeVirtVersion | undefined): GateEvaluation {
  const listed = listedGates(cr).includes(GATE_NAME);
  const disabled = disabledGates(cr).includes(GATE_NAME);
  switch (versionLine(version)) {
    case '>=1.10':
      return { enabled: true, why: 'GA in KubeVirt 1.10+, always on' + (disabled ? ' (disabledFeatureGates has no effect on a GA gate)' : '') };
    case '1.9':
      if (listed) return { enabled: true, why: 'listed in featureGates' };
      if (disabled) return { enabled: false, why: 'listed in disabledFeatureGates' };
      return { enabled: true, why: 'Beta in KubeVirt 1.9, on by default' };
    default:
      // ≤1.8 and unknown: listed means on; 1.8 ignores disabledFeatureGates for a gate that is not on by default.
      return listed ? { enabled: true, why: 'listed in featureGates' } : { enabled: false, why: 'not listed in featureGates' };
  }
}

export function gateEnabled(cr: unknown, version: KubeVirtVersion | undefined): boolean {
  return evaluateGate(cr, version).enabled;
}

export interface ModeInput {
  /** The KubeVirt CR in effect (see selectKubeVirt); undefined when there is none. */
  cr: unknown;
  /** status.observedKubeVirtVersion, parsed; undefined when missing or unparseable. */
  version: KubeVirtVersion | undefined;
  /** Are there hooks to inject in coexist mode (those upstream lacks)? Only shapes the reason. */
  siteHooksConfigured: boolean;
  /**
   * On 1.9+ with upstream hooks active, step aside for the hooks upstream runs (default true → coexist).
   * false keeps our whole chain running after upstream's client (→ inject), e.g. to keep our own
   * CPU re-pinning where upstream's disagrees with the node's sysfs topology.
   */
  stepAside?: boolean;
}

export function computeMode(input: ModeInput): GateState {
  const { cr, version } = input;
  const kubevirtVersion = version?.raw;
  const state = (mode: Mode, gate: boolean, reason: string): GateState =>
    kubevirtVersion === undefined ? { mode, gateEnabled: gate, reason } : { mode, gateEnabled: gate, kubevirtVersion, reason };
  if (cr === undefined) return state('off', false, 'no KubeVirt CR with a status.phase');

  const gate = evaluateGate(cr, version);
  const line = versionLine(version);
  const shown = kubevirtVersion ?? 'unknown version';
  if (!gate.enabled) return state('off', false, `${GATE_NAME} ${gate.why} (KubeVirt ${shown})`);

  switch (line) {
    case '<=1.4':
      return state('inject', true, `${GATE_NAME} ${gate.why}; KubeVirt ${shown} has no libvirt hooks: injecting ours`);
    case '1.5-1.7':
      return state('inject', true, `${GATE_NAME} ${gate.why}; KubeVirt ${shown} has no migration hooks of its own: injecting ours`);
    case '1.8':
      return state('inject', true, `${GATE_NAME} ${gate.why}; KubeVirt ${shown} ships the alpha hooks: injecting ours after them`);
    case 'unknown':
      // Wrongly stepping aside loses the re-pinning (dedicated-CPU VMs land on stale pins);
      // wrongly injecting only re-runs an idempotent re-pin after upstream's. So inject.
      return state('inject', true, `${GATE_NAME} ${gate.why}; KubeVirt version unknown: injecting (the safe side)`);
    case '1.9':
    case '>=1.10': {
      if (input.stepAside === false) {
        return state('inject', true, `${GATE_NAME} ${gate.why}; KubeVirt ${shown} runs its own hooks, step-aside disabled: injecting our full chain after them`);
      }
      const what = input.siteHooksConfigured
        ? 'injecting only the hooks upstream lacks or does in part, after upstream\'s'
        : 'every configured hook is left to upstream: injecting nothing';
      return state('coexist', true, `${GATE_NAME} ${gate.why}; KubeVirt ${shown} runs its own hooks: ${what}`);
    }
  }
}

export interface KubeVirtStatus {
  phase?: string;
  observedKubeVirtVersion?: string;
}

function statusOf(cr: unknown): KubeVirtStatus {
  const s = obj(obj(cr).status);
  const out: KubeVirtStatus = {};
  if (typeof s.phase === 'string') out.phase = s.phase;
  if (typeof s.observedKubeVirtVersion === 'string') out.observedKubeVirtVersion = s.observedKubeVirtVersion;
  return out;
}

function sortKey(cr: unknown): string {
  const m = obj(obj(cr).metadata);
  const created = m.creationTimestamp instanceof Date ? m.creationTimestamp.toISOString() : typeof m.creationTimestamp === 'string' ? m.creationTimestamp : '';
  return `${created}\u0000${typeof m.name === 'string' ? m.name : ''}`;
}

/**
 * The CR KubeVirt itself acts on: one with a non-empty status.phase (a second CR created next to a
 * working one never gets a phase). If several have one, the oldest (then by name), so the choice is stable.
 */
export function selectKubeVirt(crs: readonly unknown[]): unknown {
  const live = crs.filter((cr) => (statusOf(cr).phase ?? '') !== '');
  return [...live].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))[0];
}

/** The whole decision from the list of CRs in the KubeVirt namespace. */
export function stateFromKubeVirts(
  crs: readonly unknown[],
  opts: { siteHooksConfigured: boolean; stepAside?: boolean; namespace?: string },
): GateState {
  const cr = selectKubeVirt(crs);
  if (cr === undefined) {
    const where = opts.namespace ? ` in namespace ${opts.namespace}` : '';
    const reason = crs.length === 0 ? `no KubeVirt CR${where}` : `no KubeVirt CR with a status.phase${where} (${crs.length} without)`;
    return { mode: 'off', gateEnabled: false, reason };
  }
  const observed = statusOf(cr).observedKubeVirtVersion ?? '';
  const input: ModeInput = { cr, version: parseKubeVirtVersion(observed), siteHooksConfigured: opts.siteHooksConfigured };
  if (opts.stepAside !== undefined) input.stepAside = opts.stepAside;
  const state = computeMode(input);
  if (input.version === undefined && observed.trim() !== '') {
    // Keep the admin's clue: the raw text, quoted, in the reason (kubevirt_info shows "unknown").
    state.reason += ` (status.observedKubeVirtVersion ${JSON.stringify(observed.slice(0, 64))} not understood)`;
  }
  return state;
}

/** --gate-source always|never: the CR is not read. */
export function staticState(source: 'always' | 'never'): GateState {
  return source === 'always'
    ? { mode: 'inject', gateEnabled: true, reason: '--gate-source=always: injecting regardless of the KubeVirt CR' }
    : { mode: 'off', gateEnabled: false, reason: '--gate-source=never: injection disabled' };
}
