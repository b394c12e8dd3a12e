/**
 * The webhook's HTTP steps that need no socket: header checks and JSON decoding (body.ts), the
 * pure outcome mapping of /mutate and /validate (answer.ts) and the concurrency bound (limiter.ts).
 */
import { checkBodyHeaders, jsonShape, parseJsonBody, type Decoded } from '../../src/webhook/http/body.js';
import { handleMutate, handleValidate, mutateOverloaded } from '../../src/webhook/http/answer.js';
import { ConcurrencyLimiter, requestWeight } from '../../src/webhook/http/limiter.js';
import { fixedGate } from '../../src/webhook/main.js';
import { testInjectSettings } from '../integration/webhook-harness.js';

const state = { gate: fixedGate('always').current(), settings: testInjectSettings() };
const ok = (value: unknown): Decoded<unknown> => ({ ok: true, value });

describe('checkBodyHeaders', () => {
  const max = 1000;
  test('application/json with or without utf-8 charset passes', () => {
    for (const t of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"']) {
      expect(checkBodyHeaders({ 'content-type': t }, max)).toEqual({ ok: true, value: undefined });
    }
  });
  test('another media type, another charset or a compressed body → 415 unsupported-media-type', () => {
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/json; charset=latin1' }, { 'content-type': 'application/json', 'content-encoding': 'gzip' }]) {
      expect(checkBodyHeaders(headers, max)).toMatchObject({ ok: false, status: 415, reason: 'unsupported-media-type' });
    }
  });
  test('a declared length above the limit → 413 before reading', () => {
    expect(checkBodyHeaders({ 'content-type': 'application/json', 'content-length': '1001' }, max)).toMatchObject({ ok: false, status: 413, reason: 'too-large' });
    expect(checkBodyHeaders({ 'content-type': 'application/json', 'content-length': '1000' }, max).ok).toBe(true);
  });
});

describe('parseJsonBody', () => {
  test('any JSON value decodes, scalars included', () => {
    for (const [text, value] of [['null', null], ['5', 5], ['"x"', 'x'], ['[]', []], ['{"a":1}', { a: 1 }]] as const) {
      expect(parseJsonBody(Buffer.from(text))).toEqual({ ok: true, value });
    }
  });
  test('invalid UTF-8 and non-JSON text → 400 malformed-json', () => {
    expect(parseJsonBody(Buffer.from([0x22, 0xff, 0x22]))).toMatchObject({ ok: false, status: 400, reason: 'malformed-json' });
    expect(parseJsonBody(Buffer.from('{"a":'))).toMatchObject({ ok: false, status: 400, reason: 'malformed-json' });
  });
});

describe('handleMutate: decoded → answer, log, metric (pure)', () => {
  test('null, 5, "x" and [] → 200, allowed, empty uid, error/bad-review', () => {
    for (const v of [null, 5, 'x', []]) {
      const r = handleMutate(ok(v), state);
      expect(r.answer).toEqual({ status: 200, close: false, body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '', allowed: true } } });
      expect(r.metric).toEqual({ result: 'error', reason: 'bad-review', dryRun: false });
      expect(r.log.level).toBe('error');
    }
  });
  test('each refusal keeps its status and its reason label; none is "internal"', () => {
    const cases = [[415, 'unsupported-media-type'], [413, 'too-large'], [400, 'malformed-json']] as const;
    for (const [status, reason] of cases) {
      const r = handleMutate({ ok: false, status, reason, message: 'm' }, state);
      expect(r.answer.status).toBe(status);
      expect(r.answer.close).toBe(true);
      expect(r.metric).toEqual({ result: 'error', reason, dryRun: false });
      expect(r.log).toMatchObject({ level: 'warn', msg: 'rejected admission request body', fields: { status, reason } });
    }
  });
  test('overload → 503 (failurePolicy applies), reason overloaded', () => {
    const r = mutateOverloaded('queue-full', { active: 4, queue: 16 });
    expect(r.answer.status).toBe(503);
    expect(r.metric.reason).toBe('overloaded');
  });
});

describe('handleValidate (pure)', () => {
  test('scalars are allowed with 200; refusals keep their status', () => {
    expect(handleValidate(ok(5), { policy: 'deny' }).answer.status).toBe(200);
    expect((handleValidate(ok(5), { policy: 'deny' }).answer.body as { response: { allowed: boolean } }).response.allowed).toBe(true);
    expect(handleValidate({ ok: false, status: 415, reason: 'unsupported-media-type', message: 'm' }, { policy: 'warn' }).answer.status).toBe(415);
  });
});

describe('ConcurrencyLimiter', () => {
  test('at most `active` run; `queue` wait in order; past that an immediate refusal; a wait times out', async () => {
    const l = new ConcurrencyLimiter({ active: 2, queue: 1, waitMs: 50 });
    const a = await l.acquire();
    const b = await l.acquire();
    expect(a.ok && b.ok).toBe(true);
    const queued = l.acquire();
    expect(await l.acquire()).toEqual({ ok: false, reason: 'queue-full' });
    expect(l.inFlight()).toBe(2);
    if (a.ok) a.release();
    const c = await queued;
    expect(c.ok).toBe(true);
    expect(l.inFlight()).toBe(2);
    expect(await l.acquire()).toEqual({ ok: false, reason: 'queue-timeout' });
    if (b.ok) { b.release(); b.release(); } // a second release is a no-op
    if (c.ok) c.release();
    expect(l.inFlight()).toBe(0);
    expect(l.queued()).toBe(0);
  });
});

describe('ConcurrencyLimiter by bytes', () => {
  test('declared sizes in flight stay within the byte bound; one request always fits when nothing runs; order is kept', async () => {
    const l = new ConcurrencyLimiter({ active: 4, queue: 4, waitMs: 1000, bytes: 100 });
    const big = await l.acquire(100);
    expect(big.ok).toBe(true);
    const small = l.acquire(10); // waits: 100 + 10 > 100
    const order: string[] = [];
    void small.then(() => order.push('small'));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    if (big.ok) big.release();
    const s = await small;
    expect(s.ok).toBe(true);
    expect(l.inFlightBytes()).toBe(10);
    const huge = await new ConcurrencyLimiter({ active: 1, queue: 0, waitMs: 10, bytes: 5 }).acquire(500);
    expect(huge.ok).toBe(true);
    if (s.ok) s.release();
  });
  test('requestWeight: the declared length, or the maximum when absent or bogus', () => {
    expect(requestWeight('42', 100)).toBe(42);
    expect(requestWeight(undefined, 100)).toBe(100);
    expect(requestWeight('-1', 100)).toBe(100);
    expect(requestWeight('1e9', 100)).toBe(100);
  });
});

describe('jsonShape and the structural limit', () => {
  test('counts objects and arrays outside strings, and the nesting depth', () => {
    expect(jsonShape(Buffer.from('{"a":[{},{"b":"{[\\"]"}],"c":1}'))).toEqual({ containers: 4, depth: 3 });
  });
  test('too many objects or too deep → 413 too-complex before parsing', () => {
    expect(parseJsonBody(Buffer.from(`[${Array(11).fill('{}').join(',')}]`), { containers: 10, depth: 5 })).toMatchObject({ ok: false, status: 413, reason: 'too-complex' });
    expect(parseJsonBody(Buffer.from('[[[[[[]]]]]]'), { containers: 10, depth: 5 })).toMatchObject({ ok: false, status: 413, reason: 'too-complex' });
    expect(parseJsonBody(Buffer.from('[[[[[]]]]]'), { containers: 10, depth: 5 }).ok).toBe(true);
  });
});
