#!/usr/bin/env node
/**
 * `npm run golden:update`: recompute test/golden/webhook/<case>/expected-patch.json from each
 * case's review.json with the compiled admit() (run `npm run build:ts` first; the npm script
 * does), for a human to review with `git diff` before committing. Tests only ever read these
 * files: no test writes a golden, so a test can never pass on its own output. A case the webhook
 * does not inject gets `[]`.
 *
 * The settings are the golden test's (test/golden/webhook/settings.json holds the webhook flags
 * and the cluster every case runs against); a case's own settings.json may add flags, set the
 * gate mode (inject|coexist), the cluster versions and the namespace's quotas and limit ranges.
 * test/integration/webhook-golden.test.ts reads them the same way (through goldenCase()).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const GOLDEN = path.join(ROOT, 'test/golden/webhook');
const load = (rel) => import(pathToFileURL(path.join(ROOT, 'dist/src', rel)).href);

const { parseWebhookSettings } = await load('webhook/config/settings.js');
const { admit } = await load('webhook/admission/admit.js');
const { fixedCluster } = await load('webhook/main.js');

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const base = readJson(path.join(GOLDEN, 'settings.json'));

let changed = 0;
const cases = readdirSync(GOLDEN).filter((d) => existsSync(path.join(GOLDEN, d, 'review.json'))).sort();
for (const name of cases) {
  const dir = path.join(GOLDEN, name);
  const own = existsSync(path.join(dir, 'settings.json')) ? readJson(path.join(dir, 'settings.json')) : {};
  const settings = parseWebhookSettings([...base.flags, ...(own.flags ?? [])]).inject;
  const gate = { mode: own.gate ?? 'inject', gateEnabled: true, kubevirtVersion: own.kubevirtVersion ?? base.kubevirtVersion, reason: 'golden case' };
  const cluster = fixedCluster(own.cluster ?? base.cluster, own.namespace);
  const { review } = admit(readJson(path.join(dir, 'review.json')), { gate, settings, cluster });
  const patch = review.response.patch ? JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) : [];
  const file = path.join(dir, 'expected-patch.json');
  const text = `${JSON.stringify(patch, null, 2)}\n`;
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before !== text) {
    writeFileSync(file, text);
    changed += 1;
    process.stdout.write(`updated ${path.relative(ROOT, file)}\n`);
  }
}
process.stdout.write(`${changed} of ${cases.length} golden patches changed; review them with git diff test/golden/webhook\n`);
