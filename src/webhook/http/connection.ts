/**
 * Connection bounds shared by every listener of the webhook (admission, report, metrics), so a
 * slow, idle or silent client costs a bounded time and a bounded share of memory:
 *   handshakeTimeoutMs  a TCP connection must finish its TLS handshake in this time (a client
 *                       that never sends a ClientHello is closed by it);
 *   headersTimeoutMs    a request's headers must arrive in this time after the connection is
 *                       ready or the previous response went out (an idle TLS connection that
 *                       never sends a request is closed by it);
 *   requestTimeoutMs    a whole request, body included, must arrive in this time;
 *   keepAliveTimeoutMs  an idle keep-alive connection is closed after this time;
 *   maxConnections      more concurrent connections than this are dropped at accept.
 * Node checks header and request deadlines on a timer (`connectionsCheckingInterval`, 30 s by
 * default, which is why a 10 s header timeout used to act after up to 40 s): it is set here
 * from the shortest deadline, so each takes effect within a fraction of itself.
 */
import type { IncomingMessage, Server as HttpServer, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Server as HttpsServer } from 'node:https';

export interface ConnectionBounds {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export const DEFAULT_BOUNDS: ConnectionBounds = {
  handshakeTimeoutMs: 5_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 30_000,
  maxConnections: 512,
};

/** How often Node looks for connections past their header/request deadline. */
export function checkingIntervalMs(b: Pick<ConnectionBounds, 'headersTimeoutMs' | 'requestTimeoutMs'>): number {
  return Math.max(50, Math.min(1_000, Math.floor(Math.min(b.headersTimeoutMs, b.requestTimeoutMs) / 4)));
}

/** Options that only take effect when passed at creation (the checking interval). */
export function httpServerOptions(b: ConnectionBounds): ServerOptions {
  return {
    headersTimeout: b.headersTimeoutMs,
    requestTimeout: b.requestTimeoutMs,
    keepAliveTimeout: b.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkingIntervalMs(b),
  };
}

/** Sockets that have answered at least one request, and whether one is in progress now. */
const served = new WeakMap<HttpServer | HttpsServer, Map<Socket, { busy: boolean }>>();

function trackServed(server: HttpServer | HttpsServer): void {
  const sockets = new Map<Socket, { busy: boolean }>();
  served.set(server, sockets);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    let entry = sockets.get(socket);
    if (!entry) {
      entry = { busy: true };
      sockets.set(socket, entry);
      socket.once('close', () => sockets.delete(socket));
    }
    entry.busy = true;
    const state = entry;
    res.once('finish', () => (state.busy = false));
    res.once('close', () => (state.busy = false));
  });
}

export function applyConnectionBounds(server: HttpServer | HttpsServer, b: ConnectionBounds, tls: boolean): void {
  trackServed(server);
  server.headersTimeout = b.headersTimeoutMs;
  server.requestTimeout = b.requestTimeoutMs;
  server.keepAliveTimeout = b.keepAliveTimeoutMs;
  server.maxConnections = b.maxConnections;
  if (!tls) {
    // Plain HTTP has no handshake; a connection that never sends a byte is the header deadline's.
    return;
  }
  // A failed or timed-out handshake is the client's problem: never an unhandled 'error'.
  server.on('tlsClientError', (_err: Error, socket: Socket) => {
    socket.destroy();
  });
}

/**
 * Stop accepting, close idle keep-alive sockets at once (clients reconnect, to another replica
 * once endpoints dropped this one), let in-flight requests finish (their answers carry
 * `Connection: close` while stopping), and after `graceMs` close what is left.
 *
 * "Idle" means: has answered a request and is between requests. A connection that has not
 * sent its first request yet is left alone (Node's closeIdleConnections would reset a client
 * that just finished its handshake): it is answered with `Connection: close`, or closed by the
 * header deadline.
 */
export function drain(server: HttpServer | HttpsServer, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    const sockets = served.get(server);
    if (!sockets) {
      server.closeIdleConnections();
      return;
    }
    for (const [socket, state] of sockets) if (!state.busy) socket.destroy();
  });
}
