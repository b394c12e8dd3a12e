/**
 * Site-hook golden cases (test/golden/site-hooks/, see cases.ts there), in process through the
 * same flag parsing and chain options as `mutate`: the output equals expected.xml byte for byte
 * (or the one refusal expected-error.txt names), and a second run over the output changes nothing.
 * test/unit/cli-site-hooks.test.ts runs the same cases through the built CLI.
 */
import { runChain } from '../../src/core/chain.js';
import { chainOptionsFor, contextFor, loadHost, parseChainFlags } from '../../src/cli/commands/chain-flags.js';
import { loadSiteGoldenCases, type SiteGoldenCase } from './site-hooks/cases.js';

const cases = loadSiteGoldenCases();

function mutate(c: SiteGoldenCase, input: string): ReturnType<typeof runChain> {
  const flags = parseChainFlags(c.argv);
  if (flags === 'help') throw new Error('unexpected --help');
  return runChain(input, contextFor(flags, loadHost(flags.sysfs)), chainOptionsFor(flags));
}

test('there are cases of every kind: changed, refused at validation, refused at migration time', () => {
  expect(cases.filter((c) => c.expected !== undefined).length).toBeGreaterThanOrEqual(8);
  expect(cases.filter((c) => c.expectedError?.startsWith('site-hooks.yaml:')).length).toBeGreaterThanOrEqual(8);
  expect(cases.filter((c) => c.expectedError?.startsWith('site:')).length).toBeGreaterThanOrEqual(3);
});

test('each case has exactly one expectation and says what it is about', () => {
  for (const c of cases) {
    expect([c.expected, c.expectedError].filter((x) => x !== undefined)).toHaveLength(1);
    expect(c.about.length).toBeGreaterThan(10);
  }
});

describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  if (c.expected !== undefined) {
    const expected = c.expected;
    test('output equals expected.xml byte for byte, and differs from the input', () => {
      const r = mutate(c, c.input);
      expect(r.xml).toBe(expected);
      expect(r.changed).toBe(true);
      expect(r.changes.length).toBeGreaterThan(0);
    });
    test('idempotent: a second run over the output changes nothing', () => {
      const again = mutate(c, expected);
      expect(again.changes).toEqual([]);
      expect(again.xml).toBe(expected);
    });
  } else {
    const expectedError = c.expectedError!;
    test('refused with the expected message', () => {
      let message = '';
      try {
        mutate(c, c.input);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      // Validation messages start with the file's path; the golden keeps the name within the case.
      expect(message.replace(`${c.dir}/`, '')).toBe(expectedError);
    });
  }
});
