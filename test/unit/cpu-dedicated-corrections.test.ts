/**
 * The correction report of cpu-dedicated: when a domain arrives already placed for this target
 * (every enabled vCPU pinned inside the target's cpuset, as KubeVirt's own placement leaves it) and
 * the hook still moves vCPUs, each moved vCPU's change carries a note naming it; `explain`, the
 * server's log line and `premigration_hooks_placement_corrections_total` show it. Real chain, real
 * sysfs fixtures.
 */
import { readFileSync } from 'node:fs';
import { runChain } from '../../src/core/chain.js';
import { correctedVcpus } from '../../src/core/hooks/cpu-dedicated.js';
import { parseCpuList } from '../../src/core/topology/index.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import { renderExplanation } from '../../src/cli/commands/explain.js';
import { requestLogLine } from '../../src/server/request-log.js';
import { ServerMetrics } from '../../src/server/metrics.js';

const SMT2 = readHostTopology('test/fixtures/sysfs/1s-smt2');
const GOLDEN = 'test/golden/cpu-dedicated';
const input = (name: string): string => readFileSync(`${GOLDEN}/${name}/input.xml`, 'utf8');
const ctx = { cpuset: parseCpuList('3-6'), host: SMT2 };

/** The 1 × 1 × 2 guest of the golden case, with other vCPU pins. */
function pinnedTo(a: string, b: string): string {
  return input('adjacent-1x1x2-cpuset-mid-core').replace("vcpu='0' cpuset='3'", `vcpu='0' cpuset='${a}'`).replace("vcpu='1' cpuset='4'", `vcpu='1' cpuset='${b}'`);
}

describe('cpu-dedicated names the vCPUs it re-pins when it corrects a placement for this target', () => {
  test("KubeVirt's 3,4 for a 2-thread guest core in cpuset 3-6 (cores 2-3 4-5 6-7): a note per moved vCPU", () => {
    const result = runChain(pinnedTo('3', '4'), ctx, { hooks: ['cpu-dedicated'] });
    const note = 'guest core 0 (vCPU 0,1) was on CPU 3,4 (host cores 2-3 + 4-5), now on CPU 4,5 (host core 4-5); mis-pinned: vCPU 0,1';
    expect(result.changes).toEqual([
      { hook: 'cpu-dedicated', path: "/domain/cputune/vcpupin[@vcpu='0']/@cpuset", before: '3', after: '4', correction: note },
      { hook: 'cpu-dedicated', path: "/domain/cputune/vcpupin[@vcpu='1']/@cpuset", before: '4', after: '5', correction: note },
    ]);
    expect(correctedVcpus(result.changes)).toEqual([0, 1]);
  });

  test('only the vCPUs that moved are named: 5,4 → 4,5 moves both; 4,6 → 4,5 moves vCPU 1 only', () => {
    expect(correctedVcpus(runChain(pinnedTo('5', '4'), ctx, { hooks: ['cpu-dedicated'] }).changes)).toEqual([0, 1]);
    const one = runChain(pinnedTo('4', '6'), ctx, { hooks: ['cpu-dedicated'] }).changes;
    expect(correctedVcpus(one)).toEqual([1]);
    expect(one[0]?.correction).toBe('guest core 0 (vCPU 0,1) was on CPU 4,6 (host cores 4-5 + 6-7), now on CPU 4,5 (host core 4-5); mis-pinned: vCPU 1');
  });

  test("the source's pins (outside the cpuset, even partly) are an ordinary re-pin, not a correction", () => {
    for (const [a, b] of [['16', '17'], ['3', '17'], ['0', '4']] as const) {
      const result = runChain(pinnedTo(a, b), ctx, { hooks: ['cpu-dedicated'] });
      expect(result.changed).toBe(true);
      expect(result.changes.filter((c) => c.correction !== undefined)).toEqual([]);
    }
  });

  test('already right (4,5): unchanged, nothing reported', () => {
    const xml = pinnedTo('4', '5');
    const result = runChain(xml, ctx, { hooks: ['cpu-dedicated'] });
    expect(result).toMatchObject({ changed: false, changes: [], xml });
  });

  test('explain prints the corrected placement and names the mis-pinned vCPUs in its result line', () => {
    const xml = pinnedTo('3', '4');
    const result = runChain(xml, ctx, {});
    const text = renderExplanation({ input: xml, result, flags: { cpuset: ctx.cpuset, sysfs: 'test/fixtures/sysfs/1s-smt2', sourceNamespace: undefined, targetNamespace: undefined }, host: SMT2 });
    expect(text).toContain("corrected placement: the domain arrived pinned inside this cpuset, but not where this node's topology puts vCPU 0,1:\n");
    expect(text).toContain('  cpu-dedicated: guest core 0 (vCPU 0,1) was on CPU 3,4 (host cores 2-3 + 4-5), now on CPU 4,5 (host core 4-5); mis-pinned: vCPU 0,1\n');
    expect(text).toMatch(/^result: {2}2 changes, correcting mis-pinned vCPU 0,1, ABI guard passed;/m);
    // An ordinary re-pin says nothing about corrections.
    const plain = runChain(pinnedTo('16', '17'), ctx, {});
    expect(renderExplanation({ input: pinnedTo('16', '17'), result: plain, flags: { cpuset: ctx.cpuset, sysfs: 'x', sourceNamespace: undefined, targetNamespace: undefined }, host: SMT2 })).not.toMatch(/correct/);
  });

  test("the server's log line lists the corrections; plain re-pins have no such field", () => {
    const corrected = requestLogLine({ op: 'migrate', chain: runChain(pinnedTo('3', '4'), ctx, {}), status: 200, result: 'changed' });
    expect(corrected.corrections).toEqual(['cpu-dedicated: guest core 0 (vCPU 0,1) was on CPU 3,4 (host cores 2-3 + 4-5), now on CPU 4,5 (host core 4-5); mis-pinned: vCPU 0,1']);
    const plain = requestLogLine({ op: 'migrate', chain: runChain(pinnedTo('16', '17'), ctx, {}), status: 200, result: 'changed' });
    expect('corrections' in plain).toBe(false);
  });

  test('premigration_hooks_placement_corrections_total counts corrected domains by hook, starting at 0', async () => {
    const metrics = new ServerMetrics();
    metrics.initHooks(['cpu-dedicated', 'disk-namespace']);
    const series = async (): Promise<string[]> => (await metrics.render().then((m) => m.text)).split('\n').filter((l) => l.startsWith('premigration_hooks_placement_corrections_total{'));
    expect(await series()).toEqual(['premigration_hooks_placement_corrections_total{hook="cpu-dedicated"} 0', 'premigration_hooks_placement_corrections_total{hook="disk-namespace"} 0']);
    metrics.recordChain(runChain(pinnedTo('3', '4'), ctx, {})); // a correction of two vCPUs: one domain
    metrics.recordChain(runChain(pinnedTo('16', '17'), ctx, {})); // an ordinary re-pin
    metrics.recordChain(runChain(pinnedTo('4', '5'), ctx, {})); // already right
    expect(await series()).toEqual(['premigration_hooks_placement_corrections_total{hook="cpu-dedicated"} 1', 'premigration_hooks_placement_corrections_total{hook="disk-namespace"} 0']);
  });
});
