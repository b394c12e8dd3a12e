/** The one way the server writes an answer: whole, with its length, or not at all. */
import type { ServerResponse } from 'node:http';

/** An HTTP answer, whole. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  /** undefined: no body (204), or no answer at all when `destroy` is set. */
  body?: string;
  /** Cut the connection instead of answering (the client went away mid-body). */
  destroy?: true;
}

/** Write an answer whole (Content-Length always set, so the client can tell a complete body). */
export function respond(res: ServerResponse, a: Answer): void {
  if (a.destroy) {
    res.destroy();
    return;
  }
  if (a.body === undefined) {
    res.writeHead(a.status, a.headers);
    res.end();
    return;
  }
  const body = Buffer.from(a.body, 'utf8');
  res.writeHead(a.status, { ...a.headers, 'Content-Length': String(body.length) });
  res.end(body);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON answer; extra headers first, the order the answers have always had on the wire. */
export function jsonAnswer(status: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return { status, headers: { ...headers, 'Content-Type': JSON_TYPE }, body: JSON.stringify(value) };
}

