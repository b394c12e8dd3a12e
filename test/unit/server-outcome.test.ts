/**
 * outcomeOf is the one place that maps how a request ended to its status, answer, log level,
 * metric labels and report fields; every branch here, without a socket.
 */
import { outcomeOf } from '../../src/server/outcome.js';
import { DecodeError } from '../../src/server/decode.js';
import { BodyAbortedError, BodyTooLargeError } from '../../src/server/body.js';
import { AbiViolation, HookRefusal, XmlError } from '../../src/core/errors.js';
import type { ChainResult } from '../../src/core/chain.js';

const chain = (changed: boolean): ChainResult => ({
  xml: '<domain/>',
  changed,
  changes: changed ? [{ hook: 'cpu-dedicated', path: '/domain/x', before: '1', after: '2' }] : [],
  hooks: [],
  domainName: 'd',
  durationMs: 0.1,
});

describe('outcomeOf', () => {
  test('a changed result: 200 XML with the change count, info, the chain kept for metrics and report', () => {
    const o = outcomeOf({ kind: 'result', result: chain(true) });
    expect(o).toMatchObject({ status: 200, result: 'changed', level: 'info', answer: { body: '<domain/>', headers: { 'X-Premigration-Changes': '1', 'Content-Type': 'application/xml; charset=utf-8' } } });
    expect(o.chain?.changed).toBe(true);
    expect(o.refusedBy).toBeUndefined();
  });

  test('an unchanged result: 204 with no body', () => {
    const o = outcomeOf({ kind: 'result', result: chain(false) });
    expect(o).toMatchObject({ status: 204, result: 'unchanged' });
    expect(o.answer.body).toBeUndefined();
  });

  test.each([
    [new DecodeError('missing header X-Premigration-Cpuset'), 400, 'bad-request', 'warn', undefined],
    [new BodyTooLargeError(10, 11), 413, 'too-large', 'warn', undefined],
    [new HookRefusal('cpu-dedicated', 'not enough exclusive CPUs'), 422, 'refused', 'warn', 'cpu-dedicated'],
    [new AbiViolation('vcpu', 'changed'), 422, 'refused', 'warn', 'abi-guard'],
    [new XmlError('not closed', 'malformed', 1, 2), 422, 'bad-request', 'warn', undefined],
    [new TypeError('boom'), 500, 'failed', 'error', undefined],
  ])('%p → %i %s at %s, refusedBy %p', (error, status, result, level, refusedBy) => {
    const o = outcomeOf({ kind: 'error', error });
    expect(o).toMatchObject({ status, result, level });
    expect(o.refusedBy).toBe(refusedBy);
    expect(JSON.parse(o.answer.body as string)).toEqual({ error: o.log.error });
    expect(o.answer.headers['Content-Type']).toBe('application/json; charset=utf-8');
  });

  test('a fault keeps its stack for the log (never for the answer) and counts as a chain failure', () => {
    const o = outcomeOf({ kind: 'error', error: new TypeError('boom') });
    expect(o.log.stack).toContain('TypeError: boom');
    expect(o.answer.body).toBe('{"error":"internal error: boom"}');
    expect(o.failedHook).toBe('chain');
  });

  test('413 and a timeout close the connection; an aborted body is not answered at all', () => {
    expect(outcomeOf({ kind: 'error', error: new BodyTooLargeError(1, 2) }).answer.headers.Connection).toBe('close');
    const t = outcomeOf({ kind: 'timeout', timeoutMs: 200 });
    expect(t).toMatchObject({ status: 503, result: 'timeout', level: 'error', answer: { headers: { Connection: 'close' } } });
    expect(t.log.error).toBe('request not completed within 200 ms');
    expect(outcomeOf({ kind: 'error', error: new BodyAbortedError() }).answer.destroy).toBe(true);
  });
});
