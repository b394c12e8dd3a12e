/**
 * KubeVirt reserves kubevirt_*; every series of ours starts with this. Its own module so that the
 * hook server can name its series without importing prom-client (src/server/metrics.ts).
 */
export const METRIC_PREFIX = 'premigration_hooks_';
