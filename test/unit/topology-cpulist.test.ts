import { InputError } from '../../src/core/errors.js';
import { MAX_CPU_ID_EXCLUSIVE, formatCpuList, parseCpuList } from '../../src/core/topology/index.js';

describe('parseCpuList', () => {
  it.each<[string, number[]]>([
    ['0-3,8,10-11', [0, 1, 2, 3, 8, 10, 11]],
    ['0', [0]],
    ['5-5', [5]],
    ['0,48', [0, 48]],
    ['0-1\n', [0, 1]],
    ['  2-3 , 6 \n', [2, 3, 6]],
    ['0 - 2', [0, 1, 2]],
    ['8,0-3', [0, 1, 2, 3, 8]],
    ['0-3,2-5,4', [0, 1, 2, 3, 4, 5]],
    ['1,1,1', [1]],
    ['007', [7]],
    [`${MAX_CPU_ID_EXCLUSIVE - 1}`, [MAX_CPU_ID_EXCLUSIVE - 1]],
  ])('parses %j', (text, expected) => {
    expect(parseCpuList(text)).toEqual(expected);
  });

  it.each(['', '\n', '  \n\t'])('reads %j as the empty set', (text) => {
    expect(parseCpuList(text)).toEqual([]);
  });

  it.each<[string, RegExp]>([
    ['3-1', /invalid CPU list "3-1": range 3-1 is descending/],
    ['a', /invalid CPU list "a": "a" is not a CPU id or range/],
    ['1,,2', /invalid CPU list "1,,2": an empty element/],
    ['1,', /an empty element/],
    [',1', /an empty element/],
    ['-1', /"-1" is not a CPU id/],
    ['+1', /"\+1" is not a CPU id/],
    ['1.5', /"1.5" is not a CPU id/],
    ['0-7:2/4', /"0-7:2\/4" is not a CPU id/],
    ['0-3-5', /"0-3-5" is not a CPU id/],
    ['1 2', /"1 2" is not a CPU id/],
    ['0x3', /"0x3" is not a CPU id/],
    ['0-4000000000', /CPU id 4000000000 is not below 16384/],
    [`${MAX_CPU_ID_EXCLUSIVE}`, /is not below 16384/],
    ['1\n2', /invalid CPU list "1\\n2"/],
  ])('rejects %j', (text, message) => {
    expect(() => parseCpuList(text)).toThrow(InputError);
    expect(() => parseCpuList(text)).toThrow(message);
  });

  it('keeps the error one line and short for a huge bad input', () => {
    const text = `${'0-16383,'.repeat(10000)}x`;
    let message = '';
    try {
      parseCpuList(text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid CPU list "0-16383,.*…": "x" is not a CPU id or range$/);
    expect(message.length).toBeLessThan(200);
  });

  it('unions many repeated wide ranges into one set', () => {
    const cpus = parseCpuList(Array(5000).fill('0-16383').join(','));
    expect(cpus).toHaveLength(MAX_CPU_ID_EXCLUSIVE);
    expect(cpus[MAX_CPU_ID_EXCLUSIVE - 1]).toBe(MAX_CPU_ID_EXCLUSIVE - 1);
  });
});

describe('formatCpuList', () => {
  it.each<[number[], string]>([
    [[], ''],
    [[0], '0'],
    [[0, 1], '0-1'],
    [[10, 11], '10-11'],
    [[0, 1, 2, 3, 8, 10, 11], '0-3,8,10-11'],
    [[11, 3, 10, 0, 2, 1, 8, 3], '0-3,8,10-11'],
    [[0, 48], '0,48'],
    [[0, 2, 4, 6], '0,2,4,6'],
  ])('formats %j as %j', (cpus, expected) => {
    expect(formatCpuList(cpus)).toBe(expected);
  });

  it('accepts any iterable', () => {
    expect(formatCpuList(new Set([3, 1, 2]))).toBe('1-3');
  });

  it.each([-1, 1.5, Number.NaN])('rejects %p', (id) => {
    expect(() => formatCpuList([0, id])).toThrow(InputError);
  });

  it.each(['0-3,8,10-11', '0,48', '0-1,8-9', '7', ''])('round-trips canonical %j', (text) => {
    expect(formatCpuList(parseCpuList(text))).toBe(text);
  });

  it.each<[string, string]>([
    [' 8 ,0-3,2\n', '0-3,8'],
    ['4,5,6,7', '4-7'],
    ['10,11', '10-11'],
    ['\n', ''],
  ])('canonicalizes %j to %j', (text, canonical) => {
    expect(formatCpuList(parseCpuList(text))).toBe(canonical);
    expect(parseCpuList(formatCpuList(parseCpuList(text)))).toEqual(parseCpuList(text));
  });
});
