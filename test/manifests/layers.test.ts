/**
 * The layering of src/ (tools/layers.js): the eslint rule is on in the real config, it fails on
 * an import that runs up or sideways, and the tree as committed has no such import and no cycle.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { layerOf, layersPlugin, violation } from '../../tools/layers.js';
import { tsFilesUnder } from '../support/files.js';

const ROOT = process.cwd();
const SRC_FILES = tsFilesUnder(path.join(ROOT, 'src'));

/** The files a source file imports; `valueOnly` leaves out `import type` (erased at build). */
function relativeImports(file: string, valueOnly = false): string[] {
  const text = readFileSync(file, 'utf8');
  const statics = [...text.matchAll(/^(import|export)( type)?\b[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gm)]
    .filter((m) => !valueOnly || m[2] === undefined)
    .map((m) => m[3] as string);
  const dynamics = [...text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string);
  return [...statics, ...dynamics].map((spec) => path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'));
}

describe('the layer rule', () => {
  test('is switched on as an error for every source file in the real eslint config', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    for (const file of ['src/core/chain.ts', 'src/webhook/admission/admit.ts', 'src/cli/main.ts']) {
      const config = (await eslint.calculateConfigForFile(file)) as { rules: Record<string, unknown> };
      expect([file, config.rules['layers/imports-point-down']]).toEqual([file, [2]]);
    }
  });

  const lint = async (file: string, code: string): Promise<string[]> => {
    const eslint = new ESLint({
      cwd: ROOT,
      overrideConfigFile: true,
      overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { layers: layersPlugin }, rules: { 'layers/imports-point-down': 'error' } }],
    });
    const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
    return (result?.messages ?? []).map((m) => m.message);
  };

  test.each([
    ['src/core/chain.ts', "import { x } from '../server/app.js';", 'src/core must not import src/server (a higher layer)'],
    ['src/server/app.ts', "import { x } from '../webhook/main.js';", 'src/server must not import src/webhook (a sibling shell)'],
    ['src/protocol/report-wire.ts', "export { x } from '../server/metrics.js';", 'src/protocol must not import src/server (a higher layer)'],
    ['src/cli/main.ts', "await import('../nowhere/x.js');", 'src/nowhere is not a known layer (tools/layers.js)'],
    ['src/webhook/admission/admit.ts', "import type { X } from '../http/app.js';", 'src/webhook/admission must not import src/webhook/http (a higher or sibling layer)'],
  ])('fails %s importing upwards: %s', async (file, code, message) => {
    expect(await lint(file, code)).toEqual([message]);
  });

  test.each([
    ['src/cli/main.ts', "import { x } from '../server/main.js'; import { y } from '../webhook/main.js';"],
    ['src/webhook/http/app.ts', "import { x } from '../admission/admit.js'; import { y } from '../../core/chain.js';"],
    ['src/core/chain.ts', "import { x } from './hooks/registry.js'; import express from 'express';"],
  ])('passes %s importing downwards', async (file, code) => {
    expect(await lint(file, code)).toEqual([]);
  });
});

describe('the committed tree', () => {
  test('every file under src/ is in a known layer', () => {
    const unknown = SRC_FILES.filter((f) => layerOf(f, ROOT)?.rank === undefined).map((f) => path.relative(ROOT, f));
    expect(unknown).toEqual([]);
  });

  test('no import runs up a layer', () => {
    const bad = SRC_FILES.flatMap((f) => relativeImports(f).map((to) => violation(f, to, ROOT)).filter((v) => v !== undefined));
    expect(bad).toEqual([]);
  });

  test('no cycle of value imports (a type-only import is erased at build, so it cannot form one at run time)', () => {
    const graph = new Map(SRC_FILES.map((f) => [f, relativeImports(f, true)]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => path.relative(ROOT, x)).join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const to of graph.get(f) ?? []) visit(to, [...stack, f]);
      state.set(f, 'done');
    };
    for (const f of SRC_FILES) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
