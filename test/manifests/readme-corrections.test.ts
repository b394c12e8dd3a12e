import { tsFilesUnder } from '../support/files.js';
/**
 * The README's "Where this corrects KubeVirt" section, read against the code: its table's pins are
 * what the real chain does to KubeVirt's pins on an adjacent-sibling fixture, its log excerpt is
 * what the server's log line holds for the table's first row, and its metric is one the in-pod
 * server defines and exports.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runChain } from '../../src/core/chain.js';
import { parseCpuList } from '../../src/core/topology/index.js';
import { DomainXml } from '../../src/core/xml/index.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { requestLogLine } from '../../src/server/request-log.js';
import { REPO_ROOT } from './kustomize.js';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no section "## ${title}"`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

const SECTION = section('Where this corrects KubeVirt');
/** Cores 0-1 2-3 4-5 6-7, siblings written as ranges: the host of the section's table. */
const HOST = readHostTopology(path.join(REPO_ROOT, 'test/fixtures/sysfs/1s-smt2'));
const TEMPLATE = readFileSync(path.join(REPO_ROOT, 'test/golden/cpu-dedicated/adjacent-1x2x2-cpuset-1-6/input.xml'), 'utf8');

/** A dedicated-CPU domain of this topology, pinned to `pins`. */
function domain(sockets: number, cores: number, threads: number, pins: number[]): string {
  return TEMPLATE.replace(/<vcpu placement='static'>\d+<\/vcpu>/, `<vcpu placement='static'>${pins.length}</vcpu>`)
    .replace(/<cputune>[\s\S]*?<\/cputune>/, `<cputune>\n${pins.map((c, i) => `    <vcpupin vcpu='${i}' cpuset='${c}'/>`).join('\n')}\n  </cputune>`)
    .replace(/<topology [^>]*\/>/, `<topology sockets='${sockets}' dies='1' cores='${cores}' threads='${threads}'/>`);
}

const pinsOf = (xml: string): number[] => DomainXml.parse(xml).select('cputune/vcpupin').map((p) => Number(p.attr('cpuset')));
const numbers = (text: string): number[] => (/^([\d,]+)/.exec(text)?.[1] ?? '').split(',').filter(Boolean).map(Number);

describe('README: Where this corrects KubeVirt', () => {
  const rows = [...SECTION.matchAll(/^\| ([\d × or]+) \| ([\d-]+) \| ([\d,]+)[^|]*\| ([^|]+) \|$/gm)];

  test('the table: fed KubeVirt\'s pins, the chain pins what the last column says (or changes nothing)', () => {
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const [, guests, cpuset, theirs, ours] of rows) {
      for (const guest of (guests as string).split(' or ')) {
        const [s, c, t] = guest.split(' × ').map(Number) as [number, number, number];
        const input = domain(s, c, t, numbers(theirs as string));
        const result = runChain(input, { cpuset: parseCpuList(cpuset as string), host: HOST }, { hooks: ['cpu-dedicated'] });
        if ((ours as string).startsWith('the same')) expect([guest, cpuset, result.changed]).toEqual([guest, cpuset, false]);
        else expect([guest, cpuset, pinsOf(result.xml)]).toEqual([guest, cpuset, numbers(ours as string)]);
      }
    }
  });

  test("the log excerpt is the server's log line for the table's first row", () => {
    const input = domain(1, 1, 2, [3, 4]);
    const line = requestLogLine({ op: 'migrate', chain: runChain(input, { cpuset: parseCpuList('3-6'), host: HOST }, {}), status: 200, result: 'changed' });
    expect(SECTION).toContain(`"changes":${JSON.stringify(line.changes)},`);
    expect(SECTION).toContain(`"corrections":${JSON.stringify(line.corrections)}`);
  });

  test('the metric it names is defined in the code and exported by the in-pod server', async () => {
    const named = [...SECTION.matchAll(/`(premigration_hooks_[a-z_]+)/g)].map((m) => m[1] as string);
    expect(named).toEqual(['premigration_hooks_placement_corrections_total']);
    const sources = tsFilesUnder(path.join(REPO_ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(sources).toContain('placement_corrections_total');
    const metrics = new ServerMetrics();
    metrics.initHooks(['cpu-dedicated']);
    expect(await metrics.render().then((m) => m.text)).toContain(`${named[0] as string}{hook="cpu-dedicated"} 0`);
  });

  test('the sibling forms it shows: a range in the 1s-smt2 fixture, the form it calls affected', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'test/fixtures/sysfs/1s-smt2/devices/system/cpu/cpu4/topology/thread_siblings_list'), 'utf8').trim();
    expect(text).toBe('4-5');
    expect(SECTION).toContain(`siblings='${text}'`);
    expect(SECTION).toContain('thread_siblings_list');
  });
});
