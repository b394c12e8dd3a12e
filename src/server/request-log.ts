/**
 * The one structured log line per hook request. Built only from request metadata and the
 * chain's report (paths and old→new values, which are CPU lists and the like): the domain XML
 * and the request body never reach this function, because they carry VNC/SPICE passwords.
 */
import type { ChainResult } from '../core/chain.js';
import type { RequestResult } from './metrics.js';

export interface RequestOutcome {
  op: string;
  domain?: string;
  cpuset?: string;
  cpusetSource?: string;
  chain?: ChainResult;
  error?: string;
  stack?: string;
  status?: number;
  result?: RequestResult;
  durationMs?: number;
}

/** A change report longer than this is cut (a 256-vCPU domain would otherwise log 256 entries). */
export const MAX_LOGGED_CHANGES = 64;

export interface RequestLogLine {
  op: string;
  domain: string | null;
  cpuset: string | null;
  cpusetSource: string | null;
  /** Hooks that ran (appliesTo said yes), in order. */
  hooks: string[];
  /** Hooks that were enabled but did not apply to this domain. */
  skipped: string[];
  /** `path: before→after`, at most MAX_LOGGED_CHANGES of them. */
  changes: string[];
  changeCount: number;
  /**
   * Only when a hook corrected a placement already made for this target (Change.correction):
   * one `hook: note` per mis-pinned guest core, naming its vCPUs.
   */
  corrections?: string[];
  /** Why a hook that ran changed nothing (`<hook>: <reason>`); absent when no hook said anything. */
  notes?: string[];
  status: number | null;
  result: RequestResult | null;
  durationMs: number;
  error?: string;
  stack?: string;
}

function show(v: string | null): string {
  return v === null ? '∅' : v;
}

export function requestLogLine(o: RequestOutcome): RequestLogLine {
  const runs = o.chain?.hooks ?? [];
  const changes = o.chain?.changes ?? [];
  const corrections = [...new Set(changes.flatMap((c) => (c.correction !== undefined ? [`${c.hook}: ${c.correction}`] : [])))];
  return {
    op: o.op,
    domain: o.chain?.domainName || o.domain || null,
    cpuset: o.cpuset ?? null,
    cpusetSource: o.cpusetSource ?? null,
    hooks: runs.filter((r) => r.ran).map((r) => r.name),
    skipped: runs.filter((r) => !r.ran).map((r) => r.name),
    changes: changes.slice(0, MAX_LOGGED_CHANGES).map((c) => `${c.path}: ${show(c.before)}→${show(c.after)}`),
    changeCount: changes.length,
    ...(corrections.length > 0 ? { corrections: corrections.slice(0, MAX_LOGGED_CHANGES) } : {}),
    ...(o.chain?.notes?.length ? { notes: o.chain.notes } : {}),
    status: o.status ?? null,
    result: o.result ?? null,
    durationMs: Math.round((o.durationMs ?? 0) * 1000) / 1000,
    ...(o.error !== undefined ? { error: o.error } : {}),
    ...(o.stack !== undefined ? { stack: o.stack } : {}),
  };
}
