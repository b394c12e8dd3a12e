import { HookRefusal } from '../../src/core/errors.js';
import { buildCellPools, planPinning, type PinningHost, type PinningRequest } from '../../src/core/hooks/pinning.js';

/** A host from cells (CPU ids) and core groups (thread siblings). */
function host(cells: number[][], cores: number[][] = []): PinningHost {
  const siblings = new Map<number, number[]>();
  for (const core of cores) for (const cpu of core) siblings.set(cpu, [...core].sort((a, b) => a - b));
  return { cells: cells.map((cpus, id) => ({ id, cpus })), siblings };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/**
 * Two sockets / two cells, SMT-2, numbering interleaved like many 2-socket servers:
 * cell 0 = even CPUs, cell 1 = odd CPUs, siblings 8 apart (0+8, 2+10, …).
 */
const twoSocket = host(
  [
    [0, 2, 4, 6, 8, 10, 12, 14],
    [1, 3, 5, 7, 9, 11, 13, 15],
  ],
  range(0, 7).map((c) => [c, c + 8]),
);
const flat8 = host([range(0, 7)]);

function req(over: Partial<PinningRequest>): PinningRequest {
  return { threadsPerCore: 1, vcpus: [0, 1], cpuset: range(0, 7), host: flat8, numaPassthrough: false, emulatorCpus: 0, ...over };
}

const pins = (plan: ReturnType<typeof planPinning>): number[] => [...plan.vcpuPins.values()];

function refusal(r: PinningRequest): string {
  try {
    planPinning(r);
  } catch (err) {
    expect(err).toBeInstanceOf(HookRefusal);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('step 1–2: host cores and the full/fragmented split', () => {
  test('siblings form one core, filtered to the cpuset; a sibling outside the cpuset is marked seen but not usable', () => {
    const pools = buildCellPools(twoSocket, [0, 8, 2, 5], 2);
    expect(pools.map((p) => ({ id: p.id, full: p.full, fragmented: p.fragmented }))).toEqual([
      { id: 0, full: [[0, 8]], fragmented: [2] },
      { id: 1, full: [], fragmented: [5] },
    ]);
  });

  test('a CPU without sibling information is a core of its own', () => {
    const pools = buildCellPools(host([[3, 4]]), [3, 4], 1);
    expect(pools[0]?.full).toEqual([[3], [4]]);
  });
});

describe('step 3–4: filling guest cores and pinning vCPUs', () => {
  test("KubeVirt's own case: 2 vCPUs, target cpuset 6,7 in one cell → 6,7", () => {
    expect(pins(planPinning(req({ cpuset: [6, 7] })))).toEqual([6, 7]);
  });

  test('guest threads land on host sibling threads, even when the siblings are far apart', () => {
    const plan = planPinning(req({ threadsPerCore: 2, vcpus: [0, 1, 2, 3], cpuset: range(0, 15), host: twoSocket }));
    expect(pins(plan)).toEqual([0, 8, 2, 10]);
    expect(plan.hostCellsUsed).toEqual([0]);
  });

  test('phase 1 uses whole cores of every cell before any fragmented thread', () => {
    // Cell 0 offers one whole core (0,8) and a lone thread 2; cell 1 a whole core (1,9).
    const plan = planPinning(req({ threadsPerCore: 2, vcpus: [0, 1, 2, 3], cpuset: [0, 8, 2, 1, 9], host: twoSocket }));
    expect(pins(plan)).toEqual([0, 8, 1, 9]);
    expect(plan.hostCellsUsed).toEqual([0, 1]);
  });

  test('with one guest thread per core, a host core stays full until its last thread is taken', () => {
    const plan = planPinning(req({ vcpus: [0, 1, 2], cpuset: range(0, 15), host: twoSocket }));
    expect(pins(plan)).toEqual([0, 8, 2]);
  });

  test('a core that drops below the guest thread count gives its rest to the fragmented list (phase 2)', () => {
    const threeWay = host([range(0, 5)], [[0, 1, 2], [3, 4, 5]]);
    // t=2: core (0,1,2) → take 0,1, leftover 2 is fragmented; core (3,4,5) → 3,4 leftover 5; phase 2 → 2,5.
    const plan = planPinning(req({ threadsPerCore: 2, vcpus: range(0, 5), cpuset: range(0, 5), host: threeWay }));
    expect(pins(plan)).toEqual([0, 1, 3, 4, 2, 5]);
  });

  test('phase 3 (no NUMA passthrough) lets a guest core straddle two cells', () => {
    // Lone threads 2 (cell 0) and 3 (cell 1) make the second guest core.
    const plan = planPinning(req({ threadsPerCore: 2, vcpus: [0, 1, 2, 3], cpuset: [0, 8, 2, 3], host: twoSocket }));
    expect(pins(plan)).toEqual([0, 8, 2, 3]);
    expect(plan.hostCellsUsed).toEqual([0, 1]);
  });

  test('with NUMA passthrough phase 3 is skipped and the refusal says why', () => {
    const msg = refusal(req({ threadsPerCore: 2, vcpus: [0, 1, 2, 3], cpuset: [0, 8, 2, 3], host: twoSocket, numaPassthrough: true }));
    expect(msg).toBe(
      // KubeVirt's wording for the strict pool first, then ours.
      'cpu-dedicated: could not fit 1 core(s) without crossing numa cell boundaries for individual cores: ' +
        '1 of 2 guest core(s) of 2 thread(s) do not fit in one host cell each (NUMA passthrough is strict); ' +
        'usable CPUs of cpuset 0,2-3,8 by host cell: cell 0: 3, cell 1: 1',
    );
  });

  test('not enough exclusive CPUs: KubeVirt\'s words first (what admins search for), then the numbers an admin needs', () => {
    expect(refusal(req({ vcpus: [0, 1, 2, 3], cpuset: [6, 7] }))).toBe(
      'cpu-dedicated: not enough exclusive threads provided, could not fit 2 core(s): 4 vCPU(s) need 4 core(s) of 1 thread(s), the target cpuset 6-7 has 2 usable CPU(s)',
    );
  });

  test('strict mode with too few CPUs in total says "not enough", not "crossing cells"', () => {
    expect(refusal(req({ vcpus: [0, 1, 2], cpuset: [0, 1], numaPassthrough: true }))).toMatch(/^cpu-dedicated: not enough exclusive threads provided, could not fit 1 core\(s\): /);
  });

  test('cpuset CPUs the host does not list (offline) are never picked', () => {
    const plan = planPinning(req({ cpuset: [5, 6, 40] }));
    expect(pins(plan)).toEqual([5, 6]);
    expect(() => planPinning(req({ cpuset: [6, 40] }))).toThrow(/has 1 usable CPU\(s\)/);
  });

  test('hot-pluggable vCPUs: only the enabled ids are pinned, in id order', () => {
    const plan = planPinning(req({ vcpus: [0, 1], cpuset: [2, 3, 4, 5] }));
    expect([...plan.vcpuPins.entries()]).toEqual([
      [0, 2],
      [1, 3],
    ]);
  });

  test('an odd vCPU count on two-thread cores pins the first threads of the last core', () => {
    const plan = planPinning(req({ threadsPerCore: 2, vcpus: [0, 1, 2], cpuset: range(0, 15), host: twoSocket }));
    expect(pins(plan)).toEqual([0, 8, 2]);
  });

  test('an empty cpuset is refused', () => {
    expect(refusal(req({ cpuset: [] }))).toMatch(/the target cpuset \(empty\) has 0 usable CPU\(s\)/);
  });
});

describe('step 5: supplemental-pool iothreads take spare threads before the emulator', () => {
  test('fragmented threads of the first non-empty cell first, then the head of a full core', () => {
    // t=2: vCPUs take core (0,8); spare: lone 2 (fragmented) → iothread 1; then core (4,12) head 4 → iothread 2;
    // its leftover 12 becomes fragmented → the emulator takes it.
    const plan = planPinning(
      req({ threadsPerCore: 2, vcpus: [0, 1], cpuset: [0, 8, 2, 4, 12], host: twoSocket, emulatorCpus: 1, iothreads: { ids: [1, 2], supplemental: true } }),
    );
    expect(pins(plan)).toEqual([0, 8]);
    expect([...plan.iothreadPins.entries()]).toEqual([
      [1, [2]],
      [2, [4]],
    ]);
    expect(plan.iothreadRule).toBe('supplemental');
    expect(plan.emulator).toEqual([12]);
  });

  test('spare threads move on to the next cell when the first is exhausted', () => {
    const plan = planPinning(req({ vcpus: [0], cpuset: [0, 1], host: twoSocket, iothreads: { ids: [1], supplemental: true } }));
    expect(plan.iothreadPins.get(1)).toEqual([1]);
  });

  test('no spare thread for an iothread is a refusal', () => {
    expect(refusal(req({ cpuset: [6, 7], iothreads: { ids: [1], supplemental: true } }))).toBe(
      'cpu-dedicated: no CPU allocated for the iothread: not enough exclusive CPUs: no spare CPU left for iothread 1 (supplemental pool) after pinning 2 vCPU(s) (target cpuset 6-7, 2 usable)',
    );
  });
});

describe('step 6: the isolated emulator thread', () => {
  test('one CPU: the next spare thread', () => {
    expect(planPinning(req({ cpuset: [5, 6, 7], emulatorCpus: 1 })).emulator).toEqual([7]);
  });

  test('two CPUs (even-parity option): the next two spare threads', () => {
    expect(planPinning(req({ cpuset: [4, 5, 6, 7], emulatorCpus: 2 })).emulator).toEqual([6, 7]);
  });

  test('refused when the cpuset has no room for it', () => {
    expect(refusal(req({ cpuset: [5, 6, 7], emulatorCpus: 2 }))).toMatch(/^cpu-dedicated: no second CPU allocated for the emulation thread: .*no spare CPU left for emulator thread CPU 2 of 2/);
  });

  test('not isolated: no emulator pin', () => {
    expect(planPinning(req({ cpuset: [5, 6, 7] })).emulator).toBeUndefined();
  });
});

describe('step 7: plain iothreads', () => {
  test('with an isolated emulator, iothread 1 shares the emulator CPUs (and only iothread 1 is placed)', () => {
    const plan = planPinning(req({ cpuset: [4, 5, 6, 7], emulatorCpus: 2, iothreads: { ids: [1, 2], supplemental: false } }));
    expect([...plan.iothreadPins.entries()]).toEqual([[1, [6, 7]]]);
    expect(plan.iothreadRule).toBe('with-emulator');
  });

  test('iothreads ≥ vCPUs: iothread k → cpuset[k mod vCPUs]', () => {
    const plan = planPinning(req({ vcpus: [0, 1], cpuset: [10, 11, 12], host: host([range(10, 12)]), iothreads: { ids: [1, 2, 3], supplemental: false } }));
    expect([...plan.iothreadPins.entries()]).toEqual([
      [1, [11]],
      [2, [10]],
      [3, [11]],
    ]);
    expect(plan.iothreadRule).toBe('one-cpu-each');
  });

  test('iothreads < vCPUs: balanced contiguous slices of the raw cpuset — 3 over 8 gives 0-2, 3-5, 6-7', () => {
    const plan = planPinning(req({ vcpus: range(0, 7), cpuset: range(0, 7), iothreads: { ids: [1, 2, 3], supplemental: false } }));
    expect([...plan.iothreadPins.entries()]).toEqual([
      [1, [0, 1, 2]],
      [2, [3, 4, 5]],
      [3, [6, 7]],
    ]);
    expect(plan.iothreadRule).toBe('balanced-slices');
  });

  test('slices come from the raw cpuset list, not from where the vCPUs were pinned', () => {
    // On the interleaved host the vCPUs go to siblings 0,8,2,10 but the slices follow the cpuset order.
    const plan = planPinning(req({ threadsPerCore: 2, vcpus: [0, 1, 2, 3], cpuset: [0, 2, 8, 10], host: twoSocket, iothreads: { ids: [1], supplemental: false } }));
    expect(pins(plan)).toEqual([0, 8, 2, 10]);
    expect(plan.iothreadPins.get(1)).toEqual([0, 2, 8, 10]);
  });
});

describe('step 8: NUMA passthrough cells', () => {
  test('host cells used and each guest cell mapped to the host cell of its vCPUs', () => {
    // Cell 0 has one whole core (0,8), cell 1 one whole core (1,9): guest cell 0 = vCPUs 0-1, guest cell 1 = vCPUs 2-3.
    const plan = planPinning(
      req({
        threadsPerCore: 2,
        vcpus: [0, 1, 2, 3],
        cpuset: [0, 8, 1, 9],
        host: twoSocket,
        numaPassthrough: true,
        guestCells: [
          { id: 0, vcpus: [0, 1] },
          { id: 1, vcpus: [2, 3] },
        ],
      }),
    );
    expect(plan.hostCellsUsed).toEqual([0, 1]);
    expect([...plan.guestCellHostCells.entries()]).toEqual([
      [0, [0]],
      [1, [1]],
    ]);
  });

  test('two guest cells may share one host cell on a target whose cpuset lies in one cell', () => {
    const plan = planPinning(
      req({
        vcpus: [0, 1],
        cpuset: [1, 3],
        host: twoSocket,
        numaPassthrough: true,
        guestCells: [
          { id: 0, vcpus: [0] },
          { id: 1, vcpus: [1] },
        ],
      }),
    );
    expect(plan.hostCellsUsed).toEqual([1]);
    expect([...plan.guestCellHostCells.values()]).toEqual([[1], [1]]);
  });

  test('a guest cell whose vCPUs are all unplugged may use every host cell the guest uses', () => {
    const plan = planPinning(req({ vcpus: [0], cpuset: [0], host: twoSocket, guestCells: [{ id: 0, vcpus: [0] }, { id: 1, vcpus: [1] }] }));
    expect(plan.guestCellHostCells.get(1)).toEqual([0]);
  });

  test('the emulator and supplemental iothreads do not count as cells used', () => {
    const plan = planPinning(req({ vcpus: [0], cpuset: [0, 1], host: twoSocket, emulatorCpus: 1 }));
    expect(plan.emulator).toEqual([1]);
    expect(plan.hostCellsUsed).toEqual([0]);
  });
});

test('guest threads per core must be a positive integer', () => {
  expect(refusal(req({ threadsPerCore: 0 }))).toMatch(/threads per core must be a positive integer/);
});
