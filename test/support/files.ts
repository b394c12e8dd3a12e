import { readdirSync } from 'node:fs';
import path from 'node:path';

/** Every file below dir (recursively), as absolute paths. */
export function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? readdirRecursive(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

/** The TypeScript sources below dir. */
export function tsFilesUnder(dir: string): string[] {
  return readdirRecursive(dir).filter((f) => f.endsWith('.ts'));
}
