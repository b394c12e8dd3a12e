import { Registry, collectDefaultMetrics } from 'prom-client';

import { METRIC_PREFIX } from './metric-prefix.js';

export { METRIC_PREFIX };

/** A fresh registry per component (server, webhook), so tests can run several in one process. */
export function createRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
