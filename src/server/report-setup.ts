/**
 * Wires hook reports into the server app: an onRun callback, or nothing. The reporter (and with
 * it node:https and TLS) is loaded on the first run, not at start: most pods never report more
 * than once, and nothing slow may come before the socket opens.
 */
import type { ServerLogger } from './log.js';
import type { Reporter, RunRecord } from './report.js';
import type { ServerSettings } from './settings.js';

export function reporterFor(settings: Pick<ServerSettings, 'report'>, log: ServerLogger): { onRun?: (run: RunRecord) => void } {
  const report = settings.report;
  if (!report) return {};
  if ('disabled' in report) {
    log.warn({ reason: report.disabled }, 'hook reports disabled');
    return {};
  }
  const target = report.target;
  let reporter: Promise<Reporter> | undefined;
  log.info({ url: target.url }, 'hook reports enabled');
  return {
    onRun: (run) => {
      reporter ??= import('./report.js').then((m) => new m.Reporter({ target, logger: log }));
      reporter.then(
        (r) => void r.send(run),
        (err: unknown) => log.warn({ error: (err as Error).message }, 'hook report dropped'),
      );
    },
  };
}
