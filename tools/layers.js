/**
 * The source tree's layers, lowest first, and the eslint rule that keeps imports pointing down.
 * A file may import its own folder and any layer below it; a sibling shell (server ↔ webhook)
 * or anything above is an error. The same table orders the webhook's own sub-layers.
 */
import path from 'node:path';

/** Top-level layers under src/, lowest first. Entries in one inner array are siblings. */
export const LAYERS = [['core'], ['shared'], ['node'], ['protocol'], ['server', 'webhook'], ['cli']];
/** Sub-layers of src/webhook/, lowest first; files directly in src/webhook/ are its top. */
export const WEBHOOK_LAYERS = [['admission'], ['config'], ['watch'], ['http']];

function rankIn(table, name) {
  const i = table.findIndex((group) => group.includes(name));
  return i < 0 ? undefined : i;
}

/** { layer, rank, sub, subRank } of a file under <root>/src, or undefined outside src/. */
export function layerOf(file, root) {
  const rel = path.relative(path.join(root, 'src'), file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(path.sep);
  const layer = parts.length > 1 ? parts[0] : '(root)';
  const rank = rankIn(LAYERS, layer);
  let sub;
  let subRank;
  if (layer === 'webhook') {
    sub = parts.length > 2 ? parts[1] : '(main)';
    subRank = parts.length > 2 ? rankIn(WEBHOOK_LAYERS, sub) : WEBHOOK_LAYERS.length;
  }
  return { layer, rank, sub, subRank };
}

/** Why importing `to` from `from` breaks the layering, or undefined when it is allowed. */
export function violation(from, to, root) {
  const a = layerOf(from, root);
  const b = layerOf(to, root);
  if (!a) return undefined; // tests, bench and tools may import any layer
  if (!b) return `src/${a.layer} imports from outside src/`;
  if (a.rank === undefined) return `src/${a.layer} is not a known layer (tools/layers.js)`;
  if (b.rank === undefined) return `src/${b.layer} is not a known layer (tools/layers.js)`;
  if (a.layer === b.layer) {
    if (a.layer !== 'webhook' || a.sub === b.sub) return undefined;
    if (a.subRank === undefined || b.subRank === undefined) return `src/webhook/${a.subRank === undefined ? a.sub : b.sub} is not a known webhook layer (tools/layers.js)`;
    return b.subRank < a.subRank ? undefined : `src/webhook/${a.sub} must not import src/webhook/${b.sub} (a higher or sibling layer)`;
  }
  if (b.rank < a.rank) return undefined;
  return `src/${a.layer} must not import src/${b.layer} (${b.rank === a.rank ? 'a sibling shell' : 'a higher layer'})`;
}

const rule = {
  meta: { type: 'problem', docs: { description: 'imports point only down the layers of tools/layers.js' }, schema: [] },
  create(context) {
    const file = context.filename;
    const root = context.cwd;
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      const why = violation(file, target, root);
      if (why) context.report({ node, message: why });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export const layersPlugin = { rules: { 'imports-point-down': rule } };
