/**
 * A memory cgroup of our own (root only), v2 (memory.max) or v1 (memory.limit_in_bytes), nested
 * under the cgroup this test process is in, for running a child process under a real memory
 * limit and reading its peak and OOM kills afterwards.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface MemoryCgroup {
  dir: string;
  version: 1 | 2;
  /** Write this to make a shell join the group: `echo $$ > <procsFile>`. */
  procsFile: string;
  peakBytes(): number;
  oomKills(): number;
  remove(): Promise<void>;
}

function ownPath(controllerLine: RegExp): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => controllerLine.test(l));
  return line ? (line.split(':')[2] ?? '/') : '/';
}

export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  let dir: string;
  let version: 1 | 2;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    version = 2;
    const parent = path.join('/sys/fs/cgroup', ownPath(/^0::/));
    dir = path.join(parent, name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'memory.max'), String(limitBytes));
    writeFileSync(path.join(dir, 'memory.swap.max'), '0');
  } else if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) {
    version = 1;
    dir = path.join('/sys/fs/cgroup/memory', ownPath(/:memory:/), name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
  } else {
    throw new Error('no memory cgroup: neither cgroup v2 at /sys/fs/cgroup nor the v1 memory hierarchy (root needed)');
  }
  const read = (file: string): string => readFileSync(path.join(dir, file), 'utf8');
  return {
    dir,
    version,
    procsFile: path.join(dir, 'cgroup.procs'),
    peakBytes: () => Number(read(version === 2 ? 'memory.peak' : 'memory.max_usage_in_bytes').trim()),
    oomKills: () => {
      const text = read(version === 2 ? 'memory.events' : 'memory.oom_control');
      return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0);
    },
    async remove() {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          await sleep(100);
        }
      }
      rmdirSync(dir);
    },
  };
}

/** "256Mi" → bytes (the Deployment's limit notation). */
export function quantityBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`not a memory quantity: ${q}`);
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ''] ?? 1);
}
