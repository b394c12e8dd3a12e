/**
 * Decode: what a `POST /v1/migrate-begin` carries (headers, then the body) → a typed request, or
 * a DecodeError that already knows its 4xx. Pure: header values and bytes in, no sockets here.
 */
import { PremigrationError } from '../core/errors.js';
import type { IncomingHttpHeaders } from 'node:http';

export const HEADER = {
  cpuset: 'x-premigration-cpuset',
  cpusetSource: 'x-premigration-cpuset-source',
  domain: 'x-premigration-domain',
  op: 'x-premigration-op',
} as const;

/** Bad request metadata (headers or body encoding), as opposed to a bad XML: 400. */
export class DecodeError extends PremigrationError {
  constructor(message: string) {
    super('input', message);
  }
}

/** The request metadata, as the log line shows it (raw, cut to a bounded length). */
export interface RequestMeta {
  /** `X-Premigration-Op` as sent, or `unknown`. */
  op: string;
  /** Bounded metric label: migrate | restore | other. */
  opLabel: 'migrate' | 'restore' | 'other';
  domain?: string;
  cpuset?: string;
  cpusetSource?: string;
}

export interface MigrateBeginHeaders extends RequestMeta {
  /** The client's cgroup cpuset, parsed: never empty. */
  cpus: number[];
}

export function header(headers: IncomingHttpHeaders, name: string, maxLength = 256): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.slice(0, maxLength);
}

/** Anything else the client might send would grow the metric series without end. */
function opLabel(op: string | undefined): RequestMeta['opLabel'] {
  return op === 'migrate' || op === 'restore' ? op : 'other';
}

/** The metadata alone; never throws, so that every request (even a bad one) gets its log line. */
export function requestMeta(headers: IncomingHttpHeaders): RequestMeta {
  const op = header(headers, HEADER.op);
  const domain = header(headers, HEADER.domain);
  const cpuset = header(headers, HEADER.cpuset, 4096);
  const cpusetSource = header(headers, HEADER.cpusetSource);
  return {
    op: op ?? 'unknown',
    opLabel: opLabel(op),
    ...(domain !== undefined ? { domain } : {}),
    ...(cpuset !== undefined ? { cpuset } : {}),
    ...(cpusetSource !== undefined ? { cpusetSource } : {}),
  };
}

/** Headers → typed request; a missing, empty or malformed cpuset is a DecodeError (400). */
export function decodeHeaders(headers: IncomingHttpHeaders, parseCpuset: (list: string) => number[]): MigrateBeginHeaders {
  const meta = requestMeta(headers);
  const raw = meta.cpuset?.trim();
  if (!raw) throw new DecodeError('missing header X-Premigration-Cpuset');
  let cpus: number[];
  try {
    cpus = parseCpuset(raw);
  } catch (err) {
    throw new DecodeError(`invalid X-Premigration-Cpuset "${raw}": ${(err as Error).message}`);
  }
  if (cpus.length === 0) throw new DecodeError('X-Premigration-Cpuset is empty');
  return { ...meta, cpus };
}

/** The name libvirt called the hook with; the client percent-encodes `%`, control and non-ASCII bytes. */
export function decodeDomainName(headers: IncomingHttpHeaders): string | undefined {
  const raw = header(headers, HEADER.domain, 1024);
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new DecodeError(`invalid X-Premigration-Domain "${raw}": bad percent-encoding`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Body bytes → the domain XML text; anything but valid UTF-8 is a DecodeError (400). */
export function decodeBody(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new DecodeError('the body is not valid UTF-8');
  }
}
