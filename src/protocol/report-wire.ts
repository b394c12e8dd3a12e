/**
 * The hook report: one small JSON document the in-pod server POSTs to the webhook's /report
 * after each run, and its validation on the receiving side. Shared by both ends so
 * they cannot drift. Never the domain XML: names, outcomes and durations only.
 */
import { hookNames } from '../core/hooks/registry.js';
import { isObject } from '../shared/json.js';

/** Labels for outcomes that no single hook owns (the ABI guard, an unexpected fault in the chain). */
export const ABI_GUARD_LABEL = 'abi-guard';
export const CHAIN_LABEL = 'chain';

export const REPORT_PATH = '/report';
export const REPORT_SCHEMA = 1;
/** A report is a few hundred bytes; anything near this is not from our server. */
export const MAX_REPORT_BYTES = 16 * 1024;
const MAX_HOOKS = 16;
/** Anything above an hour is nonsense for a hook that runs in milliseconds. */
const MAX_DURATION_MS = 3_600_000;

export type HookReportResult = 'changed' | 'unchanged' | 'skipped' | 'refused' | 'failed';
export type MigrationReportResult = 'changed' | 'unchanged' | 'refused' | 'failed';

export const HOOK_REPORT_RESULTS: readonly HookReportResult[] = ['changed', 'unchanged', 'skipped', 'refused', 'failed'];
export const MIGRATION_REPORT_RESULTS: readonly MigrationReportResult[] = ['changed', 'unchanged', 'refused', 'failed'];

export interface HookReportEntry {
  name: string;
  result: HookReportResult;
  /** Absent when the hook did not run (skipped) or its time is unknown (refused/failed). */
  durationMs?: number;
}

export interface HookReport {
  schema: typeof REPORT_SCHEMA;
  /** migrate | restore | other */
  op: string;
  result: MigrationReportResult;
  durationMs: number;
  hooks: HookReportEntry[];
  /** The KubeVirt version the pod was created for (from the webhook, at injection). */
  kubevirtVersion?: string;
  /** For logs only, never metric labels; the webhook trusts its token's claims over these. */
  namespace?: string;
  vmi?: string;
}

/** Every value a `hook` label can take: bounded, so a report can never add series at will. */
export function reportableHooks(): string[] {
  return [...hookNames(), ABI_GUARD_LABEL, CHAIN_LABEL];
}

const duration = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_DURATION_MS;
/** Printable ASCII only: these end up in log lines. */
const shortText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max && /^[\x20-\x7e]*$/.test(v);

/** The report, or why it is not one. Unknown hook names are refused rather than relabelled. */
export function parseReport(body: unknown, known: ReadonlySet<string>): { report: HookReport } | { error: string } {
  if (!isObject(body)) return { error: 'not a JSON object' };
  if (body.schema !== REPORT_SCHEMA) return { error: `schema must be ${REPORT_SCHEMA}` };
  if (!MIGRATION_REPORT_RESULTS.includes(body.result as MigrationReportResult)) return { error: 'bad result' };
  if (!duration(body.durationMs)) return { error: 'bad durationMs' };
  if (!shortText(body.op, 16)) return { error: 'bad op' };
  if (!Array.isArray(body.hooks) || body.hooks.length > MAX_HOOKS) return { error: 'bad hooks' };
  const hooks: HookReportEntry[] = [];
  const seen = new Set<string>();
  for (const h of body.hooks) {
    if (!isObject(h) || typeof h.name !== 'string' || !known.has(h.name) || seen.has(h.name)) return { error: 'unknown or repeated hook' };
    if (!HOOK_REPORT_RESULTS.includes(h.result as HookReportResult)) return { error: `bad result for ${h.name}` };
    if (h.durationMs !== undefined && !duration(h.durationMs)) return { error: `bad durationMs for ${h.name}` };
    seen.add(h.name);
    hooks.push({ name: h.name, result: h.result as HookReportResult, ...(h.durationMs !== undefined ? { durationMs: h.durationMs } : {}) });
  }
  const optional = (key: 'kubevirtVersion' | 'namespace' | 'vmi', max: number): Record<string, string> =>
    shortText(body[key], max) && body[key] !== '' ? { [key]: body[key] } : {};
  return {
    report: {
      schema: REPORT_SCHEMA,
      op: body.op,
      result: body.result as MigrationReportResult,
      durationMs: body.durationMs,
      hooks,
      ...optional('kubevirtVersion', 64),
      ...optional('namespace', 63),
      ...optional('vmi', 253),
    },
  };
}
