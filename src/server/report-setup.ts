/** Wires hook reports into the server app: an onRun callback, or nothing. */
import type { Logger } from '../shared/log.js';
import type { RunRecord } from './report.js';
import { Reporter } from './report.js';
import type { ServerSettings } from './settings.js';

export function reporterFor(settings: Pick<ServerSettings, 'report'>, log: Logger): { onRun?: (run: RunRecord) => void } {
  const report = settings.report;
  if (!report) return {};
  if ('disabled' in report) {
    log.warn({ reason: report.disabled }, 'hook reports disabled');
    return {};
  }
  const reporter = new Reporter({ target: report.target, logger: log });
  log.info({ url: report.target.url }, 'hook reports enabled');
  return {
    onRun: (run) => {
      try {
        void reporter.send(run);
      } catch (err) {
        log.warn({ error: (err as Error).message }, 'hook report dropped');
      }
    },
  };
}
