/**
 * The kernel's CPU "list format" (`0-3,8,10-11`), as found in sysfs, cgroup cpuset files,
 * `Cpus_allowed_list`, libvirt's cpuset attributes and the X-Premigration-Cpuset header.
 */
import { InputError } from '../errors.js';

/**
 * CPU ids must be below this. Linux caps NR_CPUS at 8192 today; the margin keeps real hosts
 * valid while a typo such as `0-4000000000` fails fast instead of allocating billions of ids.
 */
export const MAX_CPU_ID_EXCLUSIVE = 16384;

/**
 * Elements (comma-separated parts) a list may have, counted before anything is split or expanded:
 * more than there can be distinct CPU ids is never a real list.
 */
export const MAX_CPU_LIST_ENTRIES = MAX_CPU_ID_EXCLUSIVE;

// One element: `N` or `N-M`, whitespace allowed around the numbers (people type `0-3, 8`).
const ELEMENT = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/;

/**
 * Parses a CPU list into ascending unique ids. Accepted: `''` or whitespace only (the empty set,
 * which sysfs writes as a bare newline), elements in any order, overlaps (they are unioned, as
 * the kernel's own parser does). Rejected with an InputError quoting the text: empty elements
 * (`1,,2`, `1,` — usually a template variable that expanded to nothing), descending ranges
 * (`3-1`), signs, stride syntax (`0-7:2/4`), anything non-numeric, ids ≥ `limitExclusive`
 * (default MAX_CPU_ID_EXCLUSIVE), more than MAX_CPU_LIST_ENTRIES elements. Every bound is checked
 * before the list is expanded, so the result never holds more than `limitExclusive` ids.
 */
export function parseCpuList(text: string, limitExclusive: number = MAX_CPU_ID_EXCLUSIVE): number[] {
  if (text.trim() === '') return [];
  let entries = 1;
  for (let i = text.indexOf(','); i !== -1; i = text.indexOf(',', i + 1)) {
    if (++entries > MAX_CPU_LIST_ENTRIES) throw invalid(text, `more than ${MAX_CPU_LIST_ENTRIES} elements (the limit on CPU list entries)`);
  }
  const ranges: Array<[number, number]> = [];
  for (const element of text.split(',')) {
    const match = ELEMENT.exec(element);
    if (match === null) {
      const what = element.trim() === '' ? 'an empty element' : `"${element.trim()}"`;
      throw invalid(text, `${what} is not a CPU id or range`);
    }
    const first = toCpuId(text, match[1] as string, limitExclusive);
    const last = match[2] === undefined ? first : toCpuId(text, match[2], limitExclusive);
    if (last < first) throw invalid(text, `range ${first}-${last} is descending`);
    ranges.push([first, last]);
  }
  // Merge before expanding, so that a long list of repeated wide ranges costs no more than one.
  ranges.sort((a, b) => a[0] - b[0]);
  const cpus: number[] = [];
  let next = 0; // lowest id not yet emitted
  for (const [first, last] of ranges) {
    for (let id = Math.max(first, next); id <= last; id++) cpus.push(id);
    next = Math.max(next, last + 1);
  }
  return cpus;
}

/**
 * Formats CPU ids in canonical compact form: ascending, duplicates dropped, runs of two or
 * more as ranges (`10-11`, as the kernel writes them). The empty set formats as `''`.
 */
export function formatCpuList(cpus: Iterable<number>): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  for (const id of sorted) {
    if (!Number.isInteger(id) || id < 0) throw new InputError(`cannot format CPU id ${id}: not a non-negative integer`);
  }
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const first = sorted[i] as number;
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    parts.push(j === i ? `${first}` : `${first}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function toCpuId(text: string, digits: string, limitExclusive: number): number {
  const id = Number(digits);
  if (id >= limitExclusive) throw invalid(text, `CPU id ${digits.length > 12 ? `${digits.slice(0, 12)}…` : digits} is not below ${limitExclusive}`);
  return id;
}

function invalid(text: string, why: string): InputError {
  // Quote the text (escaped, so a stray newline is visible) but keep the message one line long.
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return new InputError(`invalid CPU list ${JSON.stringify(shown)}: ${why}`);
}
