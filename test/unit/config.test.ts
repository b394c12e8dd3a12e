import { parseList, parsePositiveInt } from '../../src/shared/flags.js';
import { parseOnError } from '../../src/protocol/policy.js';
import { InputError } from '../../src/core/errors.js';

describe('config primitives', () => {
  test('parseOnError accepts pass/abort and rejects anything else', () => {
    expect(parseOnError('abort')).toBe('abort');
    expect(parseOnError(undefined)).toBe('pass');
    expect(() => parseOnError('ignore')).toThrow(InputError);
  });
  test('parseList trims and drops empties', () => {
    expect(parseList(' a, b ,,c')).toEqual(['a', 'b', 'c']);
    expect(parseList('')).toBeUndefined();
  });
  test('parsePositiveInt rejects zero and junk', () => {
    expect(parsePositiveInt('--timeout-ms', '250', 1)).toBe(250);
    expect(() => parsePositiveInt('--timeout-ms', '0', 1)).toThrow(/positive integer/);
    expect(() => parsePositiveInt('--timeout-ms', '1e3', 1)).toThrow(InputError);
  });
});
