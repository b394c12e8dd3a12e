/**
 * A pino logger whose lines a test can read, and a metric lookup on a prom-client registry.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Registry } from 'prom-client';

type Json = Record<string, unknown>;

/** Every line the logger writes, parsed, plus the raw text (to search for what must never appear). */
export function capturedLogger(level: pino.LevelWithSilent = 'debug'): { logger: pino.Logger; lines: Json[]; text: () => string } {
  const lines: Json[] = [];
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Json);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines, text: () => raw };
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))?.value;
}
