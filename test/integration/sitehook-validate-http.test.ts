/**
 * POST /validate-sitehook decodes with the admission decoder: bad bodies get 400/413/415 and
 * the body is in no log line; any JSON value gets an answer, never a crash.
 */
import express from 'express';
import request from 'supertest';
import { allowList } from '../../src/core/site-hooks/index.js';
import { siteHookValidateRoute } from '../../src/webhook/http/sitehook-validate-http.js';
import { capturedLogger } from '../support/log.js';

function app(logger: ReturnType<typeof capturedLogger>['logger']): express.Express {
  const a = express();
  siteHookValidateRoute({ allow: allowList(), logger, maxBodyBytes: 64 * 1024 })(a);
  return a;
}

test('malformed, oversize and non-JSON bodies carrying a secret: 400/413/415, and the secret is in no log line', async () => {
  const log = capturedLogger();
  const a = app(log.logger);
  const secret = 'vnc-passwd-must-not-leak';
  const send = (body: string, type = 'application/json') => request(a).post('/validate-sitehook').set('Content-Type', type).send(body);
  expect((await send(`{"request": {"object": "${secret}"`)).status).toBe(400);
  expect((await send(`{"x": "${secret}${'x'.repeat(128 * 1024)}"}`)).status).toBe(413);
  expect((await send(`${secret}`, 'text/plain')).status).toBe(415);
  expect(log.lines.filter((l) => l.msg === 'rejected SiteHook validation request body').map((l) => l.reason)).toEqual(['malformed-json', 'too-large', 'unsupported-media-type']);
  expect(log.text()).not.toContain(secret);
});

test.each(['null', '5', '"x"', '[]', '{}'])('the JSON value %s gets a 200 AdmissionReview answer', async (body) => {
  const res = await request(app(capturedLogger().logger)).post('/validate-sitehook').set('Content-Type', 'application/json').send(body);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ kind: 'AdmissionReview', response: expect.any(Object) });
});
