/**
 * The injected marker annotation, read back: parse it defensively (it is on a pod that other
 * webhooks and users may have edited) and fingerprint our container, so /validate can tell
 * whether the container we added is still the one we added.
 */
import { createHash } from 'node:crypto';
import type { InjectedMarker } from './names.js';
import type { QosClass } from '../../core/pod/qos.js';
import { isObject } from '../../shared/json.js';

const QOS: readonly QosClass[] = ['Guaranteed', 'Burstable', 'BestEffort'];

/**
 * sha256 over what must not change in our container: image, command and args, as JSON. Not env:
 * that holds the per-pod report token, and a change there cannot make the hook run differently.
 * 16 hex digits are plenty to notice an edit; this is no security boundary.
 */
export function sidecarDigest(container: { image?: unknown; command?: unknown; args?: unknown }): string {
  const canonical = JSON.stringify([container.image ?? null, container.command ?? null, container.args ?? null]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The marker from its annotation value, or undefined when it is not ours or was mangled. */
export function parseMarker(value: unknown): InjectedMarker | undefined {
  if (typeof value !== 'string') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!isObject(raw)) return undefined;
  const { version, mode, hooks, sidecar, qos, container, volume, digest, install, installDigest, siteHooks } = raw;
  if (typeof version !== 'string' || (mode !== 'inject' && mode !== 'coexist')) return undefined;
  if (sidecar !== 'native' && sidecar !== 'classic') return undefined;
  if (!Array.isArray(hooks) || !hooks.every((h) => typeof h === 'string')) return undefined;
  return {
    version,
    mode,
    hooks: hooks,
    sidecar,
    ...(QOS.includes(qos as QosClass) ? { qos: qos as QosClass } : {}),
    ...(str(container) ? { container: container as string } : {}),
    ...(str(volume) ? { volume: volume as string } : {}),
    ...(str(digest) ? { digest: digest as string } : {}),
    ...(str(install) ? { install: install as string } : {}),
    ...(str(installDigest) ? { installDigest: installDigest as string } : {}),
    ...(str(siteHooks) ? { siteHooks: siteHooks as string } : {}),
  };
}
