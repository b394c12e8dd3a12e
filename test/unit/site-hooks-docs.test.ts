/**
 * docs/examples/site-hooks.yaml is the four examples of docs/site-hooks.md; each must be the
 * SiteHook of its golden case (so the example an admin copies is the one the goldens test), and
 * docs/site-hooks.md must name what the code enforces (facts, default allow-list, env names).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSiteHooksFile, parseAllowFlags } from '../../src/cli/commands/site-hook-flags.js';
import { DEFAULT_ALLOW, FACT_ENV, FACTS, MAX_DELIVERY_BYTES, SITE_HOOKS_ENV } from '../../src/core/site-hooks/index.js';
import { FORBIDDEN_IN_FRAGMENTS } from '../../src/core/site-hooks/allow.js';
import { SITE_GOLDEN_DIR } from '../golden/site-hooks/cases.js';

const ROOT = join(SITE_GOLDEN_DIR, '..', '..', '..');
const allow = parseAllowFlags([]);
const examples = loadSiteHooksFile(join(ROOT, 'docs/examples/site-hooks.yaml'), allow);
const doc = readFileSync(join(ROOT, 'docs/site-hooks.md'), 'utf8');

test.each([
  ['disk-node-local', 'node-local-rootdisk'],
  ['drop-cputune-shares', 'drop-cpu-shares'],
  ['iotune-node-class', 'iotune-hdd-nodes'],
  ['metadata-audit-stamp', 'audit-stamp'],
])('example %s is the golden case\'s SiteHook', (dir, name) => {
  const golden = loadSiteHooksFile(join(SITE_GOLDEN_DIR, dir, 'site-hooks.yaml'), allow);
  expect(golden.map((h) => h.name)).toEqual([name]);
  expect(examples.find((h) => h.name === name)?.spec).toEqual(golden[0]!.spec);
  expect(doc).toContain(`test/golden/site-hooks/${dir}`);
});

test('docs/site-hooks.md names every fact, its env variable, the default allow-list and the forbidden names', () => {
  for (const f of FACTS) expect(doc).toContain(`\${${f}}`);
  for (const env of Object.values(FACT_ENV)) expect(doc).toContain(env);
  for (const p of DEFAULT_ALLOW) expect(doc).toContain(`\`${p}\``);
  for (const n of FORBIDDEN_IN_FRAGMENTS) expect(doc).toContain(n);
  expect(doc).toContain(SITE_HOOKS_ENV);
  expect(doc).toContain(`${MAX_DELIVERY_BYTES / 1024} KiB`);
});
