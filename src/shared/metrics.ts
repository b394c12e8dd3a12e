import { Registry, collectDefaultMetrics } from 'prom-client';

/** KubeVirt reserves kubevirt_*; every series of ours starts with this. */
export const METRIC_PREFIX = 'premigration_hooks_';

/** A fresh registry per component (server, webhook), so tests can run several in one process. */
export function createRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
