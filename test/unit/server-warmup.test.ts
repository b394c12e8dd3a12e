/**
 * The start-up warm-up must exercise the whole chain (placement, numatune, edits, guard) on any
 * node, and must never throw.
 */
import { runChain } from '../../src/core/chain.js';
import type { ChainResult } from '../../src/core/chain.js';
import { WARMUP_ROUNDS, warmUp } from '../../src/server/warmup.js';
import { DomainXml } from '../../src/core/xml/index.js';

describe('warmUp', () => {
  it('re-pins vCPUs, emulator, iothread and numatune on its synthetic host, every round', () => {
    const out = warmUp(runChain, {});
    expect(out).toMatchObject({ status: 'changed', rounds: WARMUP_ROUNDS });
    const result = (out as { result: ChainResult }).result;
    expect(result.changes.map((c) => c.path)).toEqual(
      expect.arrayContaining([expect.stringContaining('vcpupin'), expect.stringContaining('emulatorpin'), expect.stringContaining('iothreadpin'), expect.stringContaining('memnode')]),
    );
    const pins = DomainXml.parse(result.xml).select('cputune/vcpupin').map((p) => p.attr('cpuset'));
    expect(pins).toEqual(['0', '2']); // one SMT core of the synthetic host
  });

  it('reports a chain fault instead of throwing, with the rounds that completed', () => {
    let calls = 0;
    const flaky = (xml: string, ...rest: Parameters<typeof runChain> extends [string, ...infer R] ? R : never): ChainResult => {
      if (++calls === 3) throw new TypeError('boom');
      return runChain(xml, ...rest);
    };
    expect(warmUp(flaky, {}, 5)).toEqual({ status: 'failed', rounds: 2, message: 'boom' });
  });

  it('an unknown hook name is a fault, not a crash', () => {
    expect(warmUp(runChain, { hooks: ['no-such-hook'] }, 1)).toMatchObject({ status: 'failed', rounds: 0, message: expect.stringMatching(/unknown hook/) });
  });
});
