/**
 * Golden cases: test/golden/<hook or "chain">/<case>/{input.xml, ctx.json, expected.xml | expected-error.txt}.
 *
 * ctx.json: { about, cpuset: "list", sysfs?: "<fixture under test/fixtures/sysfs>",
 *             host?: { cells: { "<id>": "list" }, cores?: ["siblings list", …] },
 *             hooks?: [names], sourceNamespace?, targetNamespace?, domainName?, podNamespace?, vmiName?,
 *             correctedVcpus?: [ids] }
 * correctedVcpus: the vCPUs the change report must name as mis-pinned (Change.correction); [] = none.
 * Hooks default to the directory's hook (all default hooks for "chain").
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOOKS } from '../../src/core/hooks/registry.js';
import type { HookContext } from '../../src/core/hooks/types.js';
import { parseCpuList } from '../../src/core/topology/index.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import type { HostCpu, HostTopology } from '../../src/core/topology/index.js';

export const GOLDEN_DIR = new URL('.', import.meta.url).pathname;
export const SYSFS_FIXTURES = join(GOLDEN_DIR, '..', 'fixtures', 'sysfs');

interface CtxFile {
  about: string;
  cpuset: string;
  sysfs?: string;
  host?: { cells: Record<string, string>; cores?: string[] };
  hooks?: string[];
  sourceNamespace?: string;
  targetNamespace?: string;
  correctedVcpus?: number[];
  domainName?: string;
  podNamespace?: string;
  vmiName?: string;
}

export interface GoldenCase {
  group: string;
  name: string;
  dir: string;
  about: string;
  input: string;
  ctx: HookContext;
  hooks: string[] | undefined;
  expected?: string;
  expectedError?: string;
  correctedVcpus?: number[];
}

/** A HostTopology from inline cells and sibling groups (CPUs without a group are their own core). */
export function inlineHost(spec: NonNullable<CtxFile['host']>): HostTopology {
  const siblings = new Map<number, number[]>();
  for (const group of spec.cores ?? []) {
    const cpus = parseCpuList(group);
    for (const cpu of cpus) siblings.set(cpu, cpus);
  }
  const cells = Object.entries(spec.cells)
    .map(([id, list]) => ({ id: Number(id), cpus: parseCpuList(list), hugepages: [], memoryOnly: false }))
    .sort((a, b) => a.id - b.id);
  const cpus = new Map<number, HostCpu>();
  for (const cell of cells) {
    for (const id of cell.cpus) cpus.set(id, { id, node: cell.id, coreId: id, packageId: 0, siblings: siblings.get(id) ?? [id] });
  }
  return { online: [...cpus.keys()].sort((a, b) => a - b), cells, cpus };
}

/** Hook groups are named after the hook; 'chain' runs the default hook set. (Other components keep their own golden dirs here.) */
export function loadGoldenCases(groups: string[] = [...HOOKS.map((h) => h.name), 'chain']): GoldenCase[] {
  const cases: GoldenCase[] = [];
  for (const group of groups) {
    for (const name of readdirSync(join(GOLDEN_DIR, group)).sort()) {
      const dir = join(GOLDEN_DIR, group, name);
      const ctxFile = JSON.parse(readFileSync(join(dir, 'ctx.json'), 'utf8')) as CtxFile;
      const host = ctxFile.sysfs ? readHostTopology(join(SYSFS_FIXTURES, ctxFile.sysfs)) : inlineHost(ctxFile.host ?? { cells: {} });
      const ctx: HookContext = { cpuset: parseCpuList(ctxFile.cpuset), host };
      if (ctxFile.sourceNamespace !== undefined) ctx.sourceNamespace = ctxFile.sourceNamespace;
      if (ctxFile.targetNamespace !== undefined) ctx.targetNamespace = ctxFile.targetNamespace;
      if (ctxFile.domainName !== undefined) ctx.domainName = ctxFile.domainName;
      if (ctxFile.podNamespace !== undefined) ctx.podNamespace = ctxFile.podNamespace;
      if (ctxFile.vmiName !== undefined) ctx.vmiName = ctxFile.vmiName;
      const read = (f: string): string | undefined => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
      const expected = read('expected.xml');
      const expectedError = read('expected-error.txt')?.trim();
      cases.push({
        group,
        name,
        dir,
        about: ctxFile.about,
        input: readFileSync(join(dir, 'input.xml'), 'utf8'),
        ctx,
        hooks: ctxFile.hooks ?? (group === 'chain' ? undefined : [group]),
        ...(expected !== undefined ? { expected } : {}),
        ...(expectedError !== undefined ? { expectedError } : {}),
        ...(ctxFile.correctedVcpus !== undefined ? { correctedVcpus: ctxFile.correctedVcpus } : {}),
      });
    }
  }
  return cases;
}
