/**
 * Site-hook golden cases: test/golden/site-hooks/<case>/{input.xml, site-hooks.yaml, args.json,
 * expected.xml | expected-error.txt}. args.json: { about, argv } where argv are the extra
 * `mutate` flags (`--site-hooks <case>/site-hooks.yaml` is added; `@fixtures/` stands for
 * test/fixtures/).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SITE_GOLDEN_DIR = new URL('.', import.meta.url).pathname;
const FIXTURES = join(SITE_GOLDEN_DIR, '..', '..', 'fixtures');

export interface SiteGoldenCase {
  name: string;
  dir: string;
  about: string;
  /** Full `mutate` argv (without the command name). */
  argv: string[];
  input: string;
  expected?: string;
  expectedError?: string;
}

export function loadSiteGoldenCases(): SiteGoldenCase[] {
  return readdirSync(SITE_GOLDEN_DIR)
    .filter((n) => statSync(join(SITE_GOLDEN_DIR, n)).isDirectory())
    .sort()
    .map((name) => {
      const dir = join(SITE_GOLDEN_DIR, name);
      const args = JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as { about: string; argv: string[] };
      const read = (f: string): string | undefined => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
      const expected = read('expected.xml');
      const expectedError = read('expected-error.txt')?.trim();
      return {
        name,
        dir,
        about: args.about,
        argv: ['--site-hooks', join(dir, 'site-hooks.yaml'), ...args.argv.map((a) => a.replace(/^@fixtures\//, `${FIXTURES}/`))],
        input: readFileSync(join(dir, 'input.xml'), 'utf8'),
        ...(expected !== undefined ? { expected } : {}),
        ...(expectedError !== undefined ? { expectedError } : {}),
      };
    });
}
