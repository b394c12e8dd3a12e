import type { ESLint } from 'eslint';

export const LAYERS: string[][];
export const WEBHOOK_LAYERS: string[][];
export function layerOf(file: string, root: string): { layer: string; rank: number | undefined; sub?: string; subRank?: number | undefined } | undefined;
export function violation(from: string, to: string, root: string): string | undefined;
export const layersPlugin: ESLint.Plugin;
