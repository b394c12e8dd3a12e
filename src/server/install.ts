/**
 * What the server leaves for the compute container before it reports ready: the hook client
 * binary (mounted at /etc/libvirt/hooks/qemu.d/) and the client's config file.
 * Both are written to a temporary name and renamed into place, so libvirt (which re-lists
 * qemu.d/ on every call) and the client never see a half-written file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { OnErrorPolicy } from '../protocol/policy.js';
import { PRODUCT } from '../shared/version.js';

/** File name inside qemu.d/; libvirt runs qemu.d entries in byte order after hooks/qemu. */
export const CLIENT_INSTALL_NAME = 'premigration-hooks-client';

export interface ClientConf {
  socket: string;
  timeoutMs: number;
  onError: OnErrorPolicy;
}

/** The `key=value` format the Rust client reads (docs/hook-server.md, "Client config"). */
export function formatClientConf(conf: ClientConf): string {
  return [
    `# written by ${PRODUCT} serve; read by the hook client on every migrate/restore begin`,
    `socket=${conf.socket}`,
    `timeout_ms=${conf.timeoutMs}`,
    `on_error=${conf.onError}`,
    '',
  ].join('\n');
}

function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}`);
}

/** Write `data` to `target` via a temp file in the same directory + rename (atomic on one filesystem). */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = tempNameFor(target);
  try {
    // Created owner-only and without the execute bit: the temp file sits in qemu.d/, where libvirt
    // runs every executable entry, so it must not become executable before it is complete.
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
      await handle.chmod(mode); // explicit: open()'s mode is filtered by the umask
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

export async function writeClientConf(target: string, conf: ClientConf): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  // 0644: the client runs as the libvirt daemon user (107), which must read it.
  await writeFileAtomic(target, formatClientConf(conf), 0o644);
}

/** Copy the client binary into `dir` as CLIENT_INSTALL_NAME, mode 0755. Returns the installed path. */
export async function installClient(binary: string, dir: string): Promise<string> {
  const data = await fs.readFile(binary).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the hook client binary ${binary}: ${err.code ?? err.message}`);
  });
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, CLIENT_INSTALL_NAME);
  await writeFileAtomic(target, data, 0o755);
  return target;
}
