/**
 * The hook server's log: one JSON object per line on stderr, in the same shape as the rest of the
 * product's logs (src/shared/log.ts: level number, ISO time, name, component, fields, msg), written
 * by a few lines of code instead of pino, whose import costs about 0.3 s of start-up under the
 * sidecar's 100m CPU limit (bench/RESULTS.md, Footprint). Synchronous writes, so a line is out
 * before the process exits. Fields that could carry a domain XML are redacted as a second line of
 * defence: code must never pass the XML to a logger in the first place.
 */
import type { LogLevel } from './settings.js';

const LEVELS: Record<Exclude<LogLevel, 'silent'>, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 };

type LogFn = (fields: object, msg: string) => void;

/** What the server code logs through; a pino Logger fits it too (the tests pass one). */
export interface ServerLogger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

const REDACTED = new Set(['xml', 'body', 'domainXml']);
const CENSOR = '[redacted]';

function redact(fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (REDACTED.has(k)) out[k] = CENSOR;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && ('xml' in v || 'body' in v)) {
      out[k] = { ...v, ...('xml' in v ? { xml: CENSOR } : {}), ...('body' in v ? { body: CENSOR } : {}) };
    } else out[k] = v;
  }
  return out;
}

export function createServerLogger(component: string, level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): ServerLogger {
  const threshold = level === 'silent' ? Infinity : LEVELS[level];
  const at = (name: Exclude<LogLevel, 'silent'>): LogFn => {
    const n = LEVELS[name];
    if (n < threshold) return () => {};
    return (fields, msg) => {
      const head = { level: n, time: new Date().toISOString(), name: 'premigration-hooks', component };
      write(`${JSON.stringify({ ...head, ...redact(fields), msg })}\n`);
    };
  };
  return { fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
