import { diffLines, unifiedDiff } from '../../src/cli/commands/line-diff.js';
import { maskSecrets } from '../../src/cli/commands/explain.js';

const lines = (n: number, prefix = 'l'): string => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`).join('\n') + '\n';

describe('line diff for explain', () => {
  test('equal texts give no hunk', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n')).toBe('');
  });

  test('a replaced line in the middle, with context and unified line numbers', () => {
    const before = lines(10);
    const after = before.replace('l5\n', 'L5\n');
    expect(unifiedDiff(before, after, 2)).toBe('@@ -3,5 +3,5 @@\n l3\n l4\n-l5\n+L5\n l6\n l7\n');
  });

  test('insertions and removals are aligned, not shown as a rewrite of the rest', () => {
    const ops = diffLines('a\nb\nc\nd\n', 'a\nc\nX\nd\n');
    expect(ops.map((o) => `${o.kind}${o.line}`)).toEqual([' a', '-b', ' c', '+X', ' d']);
  });

  test('separate changes far apart make separate hunks', () => {
    const before = lines(20);
    const after = before.replace('l2\n', 'x\n').replace('l18\n', 'y\n');
    const hunks = unifiedDiff(before, after, 1).split('\n').filter((l) => l.startsWith('@@'));
    expect(hunks).toEqual(['@@ -1,3 +1,3 @@', '@@ -17,3 +17,3 @@']);
  });

  test('CRLF input diffs by line', () => {
    expect(unifiedDiff('a\r\nb\r\n', 'a\r\nc\r\n', 0)).toBe('@@ -2,1 +2,1 @@\n-b\n+c\n');
  });

  test('passwords are masked in shown lines, both quote styles', () => {
    expect(maskSecrets(`<graphics type='vnc' passwd='s3cret' port='1'/>`)).toBe(`<graphics type='vnc' passwd='***' port='1'/>`);
    expect(maskSecrets('<graphics passwd="x y">')).toBe('<graphics passwd="***">');
  });
});
