/** Reads that treat a missing file as an answer (sysfs and cgroupfs vary by kernel), not a fault. */
import { readFileSync, readdirSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { parseCpuList } from '../core/topology/index.js';

/** File contents, or undefined when the file (or a parent directory) does not exist. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export function listDir(path: string): string[] | undefined {
  try {
    return readdirSync(path);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A CPU list file, parsed; undefined when absent. Errors name the file. */
export function readCpuListFile(path: string): number[] | undefined {
  const text = readText(path);
  return text === undefined ? undefined : parseCpuListAt(path, text);
}

/** parseCpuList, with the file the text came from named in the error. */
export function parseCpuListAt(path: string, text: string): number[] {
  try {
    return parseCpuList(text);
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
}

/** An integer file (sysfs ids may be -1 where the platform does not know them); undefined when absent. */
export function readIntFile(path: string): number | undefined {
  const text = readText(path)?.trim();
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new InputError(`${path}: expected an integer, found ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}
