/**
 * What the webhook hands the in-pod server so it can report each hook run: the
 * report URL, the CA bundle to verify the webhook's certificate with, and a token minted for
 * this pod. Pure: the clock and the key come in with the config.
 */
import type { ReportEnv } from './inject.js';
import { mintToken } from './token.js';
import type { GateState } from './types.js';

export interface ReportMinting {
  /** https://<webhook service>/report */
  url: string;
  caBundle: string;
  key: Buffer;
  ttlSeconds: number;
  /** Unix seconds at the time of the admission. */
  nowSeconds: number;
  /** Fresh random text per admission (the token's nonce): the caller draws it, so this stays pure. */
  nonce?: string;
}

/** The VMI's name on a launcher pod (KubeVirt sets it as a label). */
export const VMI_NAME_KEY = 'kubevirt.io/domain';

const record = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export function reportEnvFor(pod: unknown, namespace: string, gate: GateState, cfg: ReportMinting): ReportEnv {
  const metadata = record(record(pod).metadata);
  const vmi = text(record(metadata.annotations)[VMI_NAME_KEY]) || text(record(metadata.labels)[VMI_NAME_KEY]);
  const token = mintToken(cfg.key, {
    ns: namespace,
    gn: text(metadata.generateName) || text(metadata.name),
    vmi,
    exp: Math.floor(cfg.nowSeconds) + cfg.ttlSeconds,
    ...(cfg.nonce !== undefined ? { n: cfg.nonce } : {}),
  });
  return { url: cfg.url, caBundle: cfg.caBundle, token, ...(gate.kubevirtVersion ? { kubevirtVersion: gate.kubevirtVersion } : {}) };
}
