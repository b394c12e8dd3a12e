/**
 * Runs every golden case through the real chain (hooks + ABI guard): the output must equal
 * expected.xml byte for byte (or the refusal expected-error.txt exactly), and a second run over
 * the output must change nothing (idempotency).
 */
import { runChain } from '../../src/core/chain.js';
import { correctedVcpus } from '../../src/core/hooks/cpu-dedicated.js';
import { HOOKS } from '../../src/core/hooks/registry.js';
import { loadGoldenCases } from './cases.js';

const cases = loadGoldenCases();

test('every shipped hook has golden cases', () => {
  const groups = new Set(cases.map((c) => c.group));
  for (const hook of HOOKS) expect(groups).toContain(hook.name);
});

test('each case has exactly one expectation', () => {
  for (const c of cases) expect([c.expected, c.expectedError].filter((x) => x !== undefined)).toHaveLength(1);
});

describe.each(cases.map((c) => [`${c.group}/${c.name}`, c] as const))('%s', (_label, c) => {
  if (c.expected !== undefined) {
    const expected = c.expected;
    test('output equals expected.xml byte for byte', () => {
      const result = runChain(c.input, c.ctx, c.hooks ? { hooks: c.hooks } : {});
      expect(result.xml).toBe(expected);
      expect(result.changed).toBe(expected !== c.input);
      expect(result.changes.length > 0).toBe(expected !== c.input);
    });
    if (c.correctedVcpus !== undefined) {
      const wanted = c.correctedVcpus;
      test(`the change report names the mis-pinned vCPUs: [${wanted.join(',')}]`, () => {
        const { changes } = runChain(c.input, c.ctx, c.hooks ? { hooks: c.hooks } : {});
        expect(correctedVcpus(changes)).toEqual(wanted);
        // Each correction is a readable note that names its vCPU among the mis-pinned ones.
        for (const change of changes.filter((x) => x.correction !== undefined)) {
          const vcpu = /vcpu='(\d+)'/.exec(change.path)?.[1] ?? '';
          expect(change.correction).toMatch(new RegExp(`mis-pinned: vCPU (\\d+,)*${vcpu}(,|$)`));
        }
      });
    }
    test('idempotent: a second run over the output changes nothing', () => {
      const again = runChain(expected, c.ctx, c.hooks ? { hooks: c.hooks } : {});
      expect(again.changed).toBe(false);
      expect(again.changes).toEqual([]);
      expect(again.xml).toBe(expected);
    });
  } else {
    test('refused with the expected message', () => {
      expect(() => runChain(c.input, c.ctx, c.hooks ? { hooks: c.hooks } : {})).toThrow(c.expectedError);
    });
  }
});
