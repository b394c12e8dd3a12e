/**
 * Footprint of what we add to a target pod: the hook server's idle RSS (goal
 * ≤ 50 MB), the client binary's size (≤ 1 MiB), and sidecar start → the socket answering
 * /healthz (≤ 500 ms). The server is the real `serve` command, on the real /sys, installing the
 * real client, as the sidecar does before it reports ready. Then the same under the shipped CPU and
 * memory limits in a real cgroup, beside bare Node (bench/limited.ts).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { roundTripInput } from './hook-roundtrip.js';
import { atMost, pick, row, sleep, stats, type Figure, type SectionResult } from './lib.js';
import { bareNodeMemory, cliPath, clientPath, heapFromMetrics, hookServerPaths, memoryOf, memText, requireBuilt, startHookServer, stop, unixRequest, type Memory } from './procs.js';
import { canLimit, limitedFootprint } from './limited.js';
import { cpuProfFlags, importCostMarkdown, importCosts, profileMarkdown, readProfiles, summarize } from './profile.js';

export const START_GOAL_MS = 500;
/** 50 MB (decimal, as the goal is written) in MiB. */
export const RSS_GOAL_MIB = 50e6 / 1048576;
export const CLIENT_GOAL_BYTES = 1048576;
/** The server's entry module and its third-party dependencies, for the import-cost table. */
const SERVER_IMPORTS = ['dist/src/server/main.js', 'prom-client', 'pino'];

export async function footprintSection(): Promise<SectionResult> {
  requireBuilt(cliPath(), clientPath());
  const dir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-fp-'));
  try {
    const p = hookServerPaths(dir);
    const starts = pick(7, 1);
    const startMs: number[] = [];
    for (let i = 0; i < starts - 1; i++) {
      const s = await startHookServer(p, { logLevel: 'warn' });
      startMs.push(s.readyMs);
      await stop(s.child);
    }
    const server = await startHookServer(p, { logLevel: 'warn' });
    startMs.push(server.readyMs);
    let idle: Memory;
    let loaded: Memory;
    let heap: Record<string, number>;
    const requests = pick(200, 3);
    try {
      await sleep(pick(1000, 100)); // let start-up garbage settle as an idle sidecar's would
      idle = memoryOf(server.child.pid as number);
      // What the client would send (docs/hook-server.md, Protocol), posted directly: this section must not depend on the client.
      const { xml, cpuset, cpusetSource } = roundTripInput();
      const headers = { 'x-premigration-op': 'migrate', 'x-premigration-cpuset': cpuset, 'x-premigration-cpuset-source': cpusetSource, 'x-premigration-domain': 'bench' };
      for (let i = 0; i < requests; i++) {
        const a = await unixRequest(p.socket, '/v1/migrate-begin', xml, headers);
        if (a.status !== 200) throw new Error(`hook server answered ${a.status} to a direct request: ${a.body.slice(0, 200)}`);
      }
      await sleep(pick(500, 50));
      loaded = memoryOf(server.child.pid as number);
      heap = heapFromMetrics((await unixRequest(p.socket, '/metrics')).body);
    } finally {
      await stop(server.child);
    }
    const bare = await bareNodeMemory();
    const clientBytes = statSync(clientPath()).size;
    const start = stats(startMs);

    const figures: Figure[] = [
      { id: 'footprint.server-idle-rss', label: 'hook server idle RSS (after start)', unit: 'MiB', median: idle.rss, n: 1, ...atMost(idle.rss, RSS_GOAL_MIB, '≤ 50 MB (47.7 MiB)') },
      { id: 'footprint.server-rss-after-load', label: `hook server RSS after ${requests} XML requests`, unit: 'MiB', median: loaded.rss, n: 1, ...atMost(loaded.rss, RSS_GOAL_MIB, '≤ 50 MB (47.7 MiB)') },
      { id: 'footprint.client-size', label: 'hook client binary size (release build on this machine)', unit: 'bytes', median: clientBytes, n: 1, ...atMost(clientBytes, CLIENT_GOAL_BYTES, '≤ 1 MiB') },
      { id: 'footprint.sidecar-start', label: `sidecar start → socket answers /healthz 200 (max ${start.max.toFixed(0)} ms)`, unit: 'ms', median: start.median, n: start.n, ...atMost(start.median, START_GOAL_MS, '≤ 500 ms') },
    ];

    const lines: string[] = [];
    lines.push(`\`node dist/src/cli/main.js serve\` on the real /sys: claims the socket, installs the client binary, writes the client config, reads the topology and listens (no warm-up); "ready" is the first 200 from GET /healthz on the socket (polled every 2 ms), timed from just before spawn, over ${start.n} starts. RSS from \`/proc/<pid>/smaps_rollup\`.`);
    lines.push('');
    lines.push(row(['memory', 'RSS', 'anonymous (the server\'s alone)', 'file-backed (node binary pages, shared)']));
    lines.push(row(['---', '---:', '---:', '---:']));
    const memRow = (label: string, m: Memory): string => row([label, `${m.rss.toFixed(1)} MiB`, `${m.anon.toFixed(1)} MiB`, `${m.file.toFixed(1)} MiB`]);
    lines.push(memRow('hook server, idle after start', idle));
    lines.push(memRow(`hook server, after ${requests} requests`, loaded));
    lines.push(memRow('bare `node -e "setTimeout(…)"` (the floor of any Node process)', bare));
    lines.push('');
    lines.push(`V8's own view after the requests (prom-client default metrics): ${Object.entries(heap).map(([k, v]) => `${k} ${v.toFixed(1)} MiB`).join(', ') || 'not exported'}.`);

    const missed = figures.filter((f) => f.met === false);
    if (missed.some((f) => f.id.includes('rss'))) {
      lines.push('');
      lines.push(`**Missed: RSS.** Where the memory is: a bare Node process already holds ${memText(bare)}; the server adds ${(idle.anon - bare.anon).toFixed(1)} MiB of anonymous memory (V8 heap and code of the modules it loads) and ${(idle.file - bare.file).toFixed(1)} MiB of file-backed pages. The file-backed part is shared with any other process mapping the same node binary and reclaimable under pressure.`);
      if (!missed.some((f) => f.id === 'footprint.sidecar-start')) {
        lines.push('');
        lines.push(importCostMarkdown(importCosts(pick(SERVER_IMPORTS, SERVER_IMPORTS.slice(0, 2)), pick(3, 1))));
      }
    }
    if (missed.some((f) => f.id === 'footprint.sidecar-start')) {
      const profDir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-prof-'));
      try {
        const s = await startHookServer(hookServerPaths(mkdtempSync(path.join(dir, 'prof-'))), { logLevel: 'warn', nodeFlags: cpuProfFlags(profDir) });
        await stop(s.child);
        lines.push('');
        lines.push(`**Missed: sidecar start.**`);
        lines.push('');
        lines.push(profileMarkdown('hook server start → ready → stop (`node --cpu-prof`)', summarize(readProfiles(profDir), 12)));
        lines.push('');
        lines.push(importCostMarkdown(importCosts(pick(SERVER_IMPORTS, SERVER_IMPORTS.slice(0, 2)), pick(3, 1))));
      } finally {
        rmSync(profDir, { recursive: true, force: true });
      }
    }
    if (canLimit()) {
      const limited = await limitedFootprint();
      figures.push(...limited.figures);
      lines.push('');
      lines.push(...limited.lines);
    } else {
      lines.push('');
      lines.push('**Under the shipped limits: not measured** (needs root and a writable cgroup tree).');
    }
    if (missed.some((f) => f.id === 'footprint.client-size')) {
      lines.push('');
      lines.push('**Missed: client size.** See `hookclient/Cargo.toml` `[profile.release]` (opt-level, lto, panic, strip).');
    }
    return { figures, markdown: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
