/**
 * A stop that really drains. Node's own `server.close()` also closes every connection it counts
 * as idle, and a connection whose last response was handed to `res.end()` but is still being
 * written to a slow reader counts as idle: a 4 MB answer was cut mid-body (issue 12 item 4).
 * So connections are tracked here: on stop the listener closes (no new connections), idle
 * keep-alive sockets are ended, busy ones finish their response (sent with `Connection: close`)
 * and are ended after it, and whatever is still open after `graceMs` is destroyed.
 */
import net from 'node:net';
import type { Server } from 'node:http';

export interface Drainer {
  /** Resolves once the listener is closed and every connection has ended (or was cut at the grace limit). */
  drain(graceMs: number): Promise<{ cut: number }>;
}

export function trackConnections(server: Server): Drainer {
  const busy = new Map<net.Socket, number>();
  let stopping = false;
  server.on('connection', (socket: net.Socket) => {
    busy.set(socket, 0);
    socket.once('close', () => busy.delete(socket));
  });
  // Before the app's listener, so that a response started while stopping already says close.
  server.prependListener('request', (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    if (stopping) res.shouldKeepAlive = false;
    let done = false;
    const finished = (): void => {
      if (done) return;
      done = true;
      const left = (busy.get(socket) ?? 1) - 1;
      if (busy.has(socket)) busy.set(socket, left);
      if (stopping && left === 0) socket.end();
    };
    res.once('finish', finished);
    res.once('close', finished);
  });
  return {
    drain(graceMs) {
      stopping = true;
      return new Promise((resolve) => {
        let cut = 0;
        const force = setTimeout(() => {
          for (const socket of busy.keys()) {
            cut++;
            socket.destroy();
          }
        }, graceMs);
        // net.Server's close: stop listening, without http.Server's sweep of "idle" connections.
        net.Server.prototype.close.call(server, () => {
          clearTimeout(force);
          resolve({ cut });
        });
        for (const [socket, n] of busy) if (n === 0) socket.end();
      });
    },
  };
}
