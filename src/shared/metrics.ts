import { Registry, collectDefaultMetrics } from 'prom-client';

import { METRIC_PREFIX } from './metric-prefix.js';

export { METRIC_PREFIX };

/**
 * prom-client's default gauges whose names end in _total, which Prometheus reserves for counters
 * (`promtool check metrics` rejects them). Each is the sum of its by-type gauge without the
 * suffix (e.g. `sum(nodejs_active_handles)`), which stays.
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/**
 * A fresh registry per component (server, webhook), so tests can run several in one process.
 * The default Node.js process metrics keep their standard names (process_*, nodejs_*), without
 * our prefix, so that stock Node.js dashboards and recording rules work on them unchanged.
 */
export function createRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults) {
    collectDefaultMetrics({ register: registry });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  return registry;
}
