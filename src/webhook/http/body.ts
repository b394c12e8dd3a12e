/**
 * Decoding a request body, the first step of every handler (decode → handle → respond).
 *
 * checkBodyHeaders() is pure (headers in, verdict out) and runs before one byte of the body is
 * read; readBody() stops at the limit, so an oversize body costs at most `maxBytes` of memory;
 * parseJsonBody() accepts any JSON value (null, 5, "x" included: what to do with a JSON value
 * that is not an AdmissionReview is the pure handler's business, not the decoder's) and refuses
 * only bytes that are not UTF-8 JSON. Each refusal carries its HTTP status and a bounded reason
 * (a metric label).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export type BodyRefusalReason = 'unsupported-media-type' | 'too-large' | 'too-complex' | 'malformed-json' | 'aborted';

export interface BodyRefusal {
  status: 400 | 413 | 415;
  reason: BodyRefusalReason;
  /** One line for the log and the answer; never the body. */
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | ({ ok: false } & BodyRefusal);

const refuse = (status: BodyRefusal['status'], reason: BodyRefusalReason, message: string): { ok: false } & BodyRefusal => ({ ok: false, status, reason, message });

/**
 * Content-Type must be application/json (charset absent or utf-8), no Content-Encoding other
 * than identity, and a declared Content-Length within the limit. The apiserver always sends
 * `application/json` without compression; anything else is not an apiserver.
 */
export function checkBodyHeaders(headers: IncomingHttpHeaders, maxBytes: number): Decoded<undefined> {
  const type = headers['content-type'];
  const [media = '', ...params] = (type ?? '').split(';').map((s) => s.trim().toLowerCase());
  if (media !== 'application/json') return refuse(415, 'unsupported-media-type', 'expected Content-Type application/json');
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8') return refuse(415, 'unsupported-media-type', 'expected charset utf-8');
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return refuse(415, 'unsupported-media-type', 'compressed bodies are not accepted');
  const declared = headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return refuse(413, 'too-large', `body larger than ${maxBytes} bytes`);
  return { ok: true, value: undefined };
}

/**
 * The whole body, or a refusal once more than `maxBytes` arrived (the rest is not read: the
 * caller answers and closes). Memory: at most `maxBytes` plus one chunk.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Decoded<Buffer>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (v: Decoded<Buffer>): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        req.pause();
        done(refuse(413, 'too-large', `body larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => done({ ok: true, value: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    const onError = (): void => done(refuse(400, 'aborted', 'request body aborted'));
    const onClose = (): void => done(refuse(400, 'aborted', 'request body aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parsed JSON costs memory by structure, not by bytes: `[{},{},…]` of 3 MiB is a million
 * objects (~100 MiB of heap, twice that once the patch check copies the pod). So the
 * objects and arrays of a body are counted, and their nesting measured, before JSON.parse
 * allocates anything. A Pod has a few hundred of them, a very large one tens of thousands;
 * KubeVirt's launcher pods never nest deeper than about 15.
 */
export const MAX_JSON_CONTAINERS = 100_000;
export const MAX_JSON_DEPTH = 128;

/** One pass over the bytes, skipping strings: the count of `{`/`[` and the deepest nesting. */
export function jsonShape(body: Buffer): { containers: number; depth: number } {
  let containers = 0;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      containers++;
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return { containers, depth: deepest };
}

/** Any JSON value; 400 for invalid UTF-8 or text that is not JSON, 413 for too many or too deep objects. */
export function parseJsonBody(body: Buffer, limits: { containers: number; depth: number } = { containers: MAX_JSON_CONTAINERS, depth: MAX_JSON_DEPTH }): Decoded<unknown> {
  const shape = jsonShape(body);
  if (shape.containers > limits.containers) return refuse(413, 'too-complex', `more than ${limits.containers} JSON objects and arrays`);
  if (shape.depth > limits.depth) return refuse(413, 'too-complex', `JSON nested deeper than ${limits.depth}`);
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return refuse(400, 'malformed-json', 'body is not valid UTF-8');
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return refuse(400, 'malformed-json', 'body is not JSON');
  }
}

/** checkBodyHeaders, readBody and parseJsonBody in order: the decode step of /mutate and /validate. */
export async function decodeJsonRequest(req: IncomingMessage, maxBytes: number): Promise<Decoded<unknown>> {
  const headers = checkBodyHeaders(req.headers, maxBytes);
  if (!headers.ok) return headers;
  const body = await readBody(req, maxBytes);
  if (!body.ok) return body;
  return parseJsonBody(body.value);
}
