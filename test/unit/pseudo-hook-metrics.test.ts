/**
 * The outcomes no hook owns (the ABI guard's refusal, a fault in the chain) have their own series,
 * on the in-pod server and on the webhook that aggregates reports: hook_runs_total{hook} only ever
 * names real hooks. Reports keep the wire names `abi-guard` and `chain` (every version sends them).
 */
import { Registry } from 'prom-client';
import { hookNames } from '../../src/core/hooks/registry.js';
import { ABI_GUARD_LABEL, CHAIN_LABEL, reportableHooks } from '../../src/protocol/report-wire.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { createReportMetrics } from '../../src/webhook/http/report-metrics.js';

const hookLabels = (text: string): string[] => [...new Set([...text.matchAll(/^premigration_hooks_hook_runs_total\{hook="([^"]+)"/gm)].map((m) => m[1] as string))].sort();

describe('in-pod server', () => {
  test('an ABI-guard refusal and a chain failure land on their own counters', async () => {
    const m = new ServerMetrics();
    m.initHooks(hookNames());
    m.recordRefusal(ABI_GUARD_LABEL);
    m.recordFailure(CHAIN_LABEL);
    m.recordRefusal('cpu-dedicated');
    const text = await m.render().then((x) => x.text);
    expect(text).toMatch(/^premigration_hooks_abi_guard_refusals_total 1$/m);
    expect(text).toMatch(/^premigration_hooks_chain_failures_total 1$/m);
    expect(text).toContain('premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="refused"} 1');
    expect(hookLabels(text)).toEqual([...hookNames()].sort());
    expect(text).not.toMatch(/hook="(abi-guard|chain)"/);
  });
});

describe('webhook aggregation of reports', () => {
  test('reports naming abi-guard or chain count there, starting at 0', async () => {
    const registry = new Registry();
    const metrics = createReportMetrics(registry, reportableHooks());
    const before = await registry.metrics();
    expect(before).toMatch(/^premigration_hooks_abi_guard_refusals_total 0$/m);
    expect(before).toMatch(/^premigration_hooks_chain_failures_total 0$/m);
    metrics.record({ schema: 1, op: 'migrate', result: 'refused', durationMs: 1, hooks: [{ name: 'abi-guard', result: 'refused' }] });
    metrics.record({ schema: 1, op: 'migrate', result: 'failed', durationMs: 1, hooks: [{ name: 'chain', result: 'failed' }] });
    metrics.record({ schema: 1, op: 'migrate', result: 'changed', durationMs: 1, hooks: [{ name: 'cpu-dedicated', result: 'changed', durationMs: 0.5 }] });
    const text = await registry.metrics();
    expect(text).toMatch(/^premigration_hooks_abi_guard_refusals_total 1$/m);
    expect(text).toMatch(/^premigration_hooks_chain_failures_total 1$/m);
    expect(text).toMatch(/^premigration_hooks_migrations_total\{result="failed"\} 1$/m);
    expect(text).toContain('premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="changed"} 1');
    expect(hookLabels(text)).toEqual([...hookNames()].sort());
  });
});
