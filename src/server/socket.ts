/**
 * The unix socket the server listens on: claim the path (replace a stale file, refuse a live
 * one), listen with mode 0660 so the libvirt daemon's uid/gid (107) can connect, and release
 * the path again on stop.
 */
import net from 'node:net';
import { promises as fs, type Stats } from 'node:fs';
import type { Server } from 'node:http';

export const SOCKET_MODE = 0o660;

export class SocketInUseError extends Error {
  constructor(readonly socketPath: string) {
    super(`another server is already listening on ${socketPath}; refusing to start`);
    this.name = 'SocketInUseError';
  }
}

/** Does something accept connections on this unix socket? */
export function isSocketLive(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socketPath);
    const done = (live: boolean): void => {
      clearTimeout(timer);
      conn.destroy();
      resolve(live);
    };
    // A listener with a full backlog does not refuse: treat "no answer in time" as live, never steal it.
    const timer = setTimeout(() => done(true), timeoutMs);
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
  });
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Make `socketPath` free for listen(): absent is fine; a socket nobody answers on (left by a
 * killed server) is removed; a live socket throws SocketInUseError; anything else is not ours to delete.
 * Returns true when a stale socket was removed.
 */
export async function claimSocketPath(socketPath: string): Promise<boolean> {
  const st = await statOrUndefined(socketPath);
  if (!st) return false;
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await isSocketLive(socketPath)) throw new SocketInUseError(socketPath);
  await fs.rm(socketPath, { force: true });
  return true;
}

export interface Listening {
  /** inode of the socket we created, so that stop() never deletes a successor's socket. */
  ino: number;
}

/** listen() on the path with mode 0660 from the first moment (umask), then chmod to be exact. */
export async function listenOnSocket(server: Server, socketPath: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // bind() happens synchronously inside listen(), so the umask only covers the socket file.
    const previous = process.umask(0o117);
    try {
      server.listen(socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
  await fs.chmod(socketPath, SOCKET_MODE);
  const st = await fs.lstat(socketPath);
  return { ino: st.ino };
}

/** Remove the socket file if it is still the one we created. */
export async function releaseSocketPath(socketPath: string, listening: Listening): Promise<void> {
  const st = await statOrUndefined(socketPath);
  if (st && st.isSocket() && st.ino === listening.ino) await fs.rm(socketPath, { force: true });
}
