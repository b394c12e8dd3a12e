/**
 * Read a request body with a byte limit. An oversize body is still read to its end (and thrown
 * away) before BodyTooLargeError is raised: the hook client writes the whole XML before it
 * reads the reply, so answering 413 early and closing would reach it as a reset, not a 413.
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number, readonly received: number) {
    super(`request body exceeds the limit of ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export class BodyAbortedError extends Error {
  constructor() {
    super('the client closed the connection before sending the whole body');
    this.name = 'BodyAbortedError';
  }
}

/**
 * Never read more than this into the void; past it the connection is cut instead. The hook client
 * reads at most 16 MiB of stdin, so any body it sends still gets a proper 413.
 */
export function drainCap(limit: number): number {
  return Math.max(4 * limit, 17 * 1024 * 1024);
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let tooLarge = Number.isFinite(declared) && declared > limit;
    const chunks: Buffer[] = [];
    let received = 0;
    const cap = drainCap(limit);

    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limit) {
        tooLarge = true;
        chunks.length = 0;
      }
      if (received > cap) {
        cleanup();
        req.destroy();
        reject(new BodyTooLargeError(limit, received));
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (tooLarge) reject(new BodyTooLargeError(limit, received));
      else resolve(Buffer.concat(chunks, received));
    };
    const onClose = (): void => {
      cleanup();
      reject(new BodyAbortedError());
    };
    const onError = (): void => onClose();
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onError);
  });
}
