/**
 * A small unified-style line diff for `explain`. Hook edits are local, so the common head and
 * tail are trimmed first and only the middle is aligned (LCS); a pathological middle falls back to
 * "all removed, all added", which is still correct, just less tidy.
 */

export type DiffOp = { kind: ' ' | '-' | '+'; line: string; oldNo: number; newNo: number };

const MAX_LCS_CELLS = 4_000_000;

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function alignMiddle(a: string[], b: string[]): Array<' ' | '-' | '+'> {
  if (a.length * b.length > MAX_LCS_CELLS) return [...a.map(() => '-' as const), ...b.map(() => '+' as const)];
  // lcs[i][j] = LCS length of a[i..] and b[j..]
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as Uint32Array;
      row[j] = a[i] === b[j] ? (lcs[i + 1] as Uint32Array)[j + 1]! + 1 : Math.max((lcs[i + 1] as Uint32Array)[j]!, row[j + 1]!);
    }
  }
  const ops: Array<' ' | '-' | '+'> = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      ops.push(' ');
      i++;
      j++;
    } else if ((lcs[i + 1] as Uint32Array)[j]! >= (lcs[i] as Uint32Array)[j + 1]!) {
      ops.push('-');
      i++;
    } else {
      ops.push('+');
      j++;
    }
  }
  while (i++ < a.length) ops.push('-');
  while (j++ < b.length) ops.push('+');
  return ops;
}

export function diffLines(before: string, after: string): DiffOp[] {
  const a = splitLines(before);
  const b = splitLines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;

  const ops: DiffOp[] = [];
  let oldNo = 0;
  let newNo = 0;
  const push = (kind: DiffOp['kind']): void => {
    if (kind === ' ') ops.push({ kind, line: a[oldNo] as string, oldNo: ++oldNo, newNo: ++newNo });
    else if (kind === '-') ops.push({ kind, line: a[oldNo] as string, oldNo: ++oldNo, newNo });
    else ops.push({ kind, line: b[newNo] as string, oldNo, newNo: ++newNo });
  };
  for (let k = 0; k < head; k++) push(' ');
  for (const kind of alignMiddle(a.slice(head, a.length - tail), b.slice(head, b.length - tail))) push(kind);
  for (let k = 0; k < tail; k++) push(' ');
  return ops;
}

/** Unified hunks (`@@ -l,n +l,n @@`) with `context` lines around each change; '' when equal. */
export function unifiedDiff(before: string, after: string, context = 3, decorate: (line: string) => string = (l) => l): string {
  const ops = diffLines(before, after);
  const changed = ops.map((op, i) => (op.kind !== ' ' ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 0) return '';
  // Group changed lines whose context windows touch.
  const hunks: Array<[number, number]> = [];
  for (const i of changed) {
    const start = Math.max(0, i - context);
    const end = Math.min(ops.length - 1, i + context);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1] + 1) last[1] = end;
    else hunks.push([start, end]);
  }
  const out: string[] = [];
  for (const [start, end] of hunks) {
    const slice = ops.slice(start, end + 1);
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    const first = slice[0] as DiffOp;
    const oldStart = first.kind === '+' ? first.oldNo + 1 : first.oldNo;
    const newStart = first.kind === '-' ? first.newNo + 1 : first.newNo;
    out.push(`@@ -${oldCount ? oldStart : oldStart - 1},${oldCount} +${newCount ? newStart : newStart - 1},${newCount} @@`);
    for (const op of slice) out.push(`${op.kind}${decorate(op.line)}`);
  }
  return `${out.join('\n')}\n`;
}
