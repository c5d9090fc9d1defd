/**
 * HTTP submission over a real socket (@hono/node-server on an ephemeral port) into a real
 * running site (its intake, spool, delivery and the submission listener's policy): JSON and raw
 * messages accepted with 202 and delivered; no token 401; a replayed Idempotency-Key answers
 * the first id and stores nothing twice, the key with another body 422; oversized 413; a From
 * the account does not own 403; an unknown local recipient 422 with nothing sent; past the
 * per-token rate 429 with Retry-After.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { smtpPolicyFromConfig } from '../policy/index.js';
import { messageSubmitter } from '../app/message-submitter.js';
import { startSite, waitFor, type Site } from '../../test/helpers/site.js';
import { SUBMISSION_API_BASE, submissionApi, type SubmissionCaller } from './submission-api.js';

const tokens: Record<string, SubmissionCaller> = {
  'tok-helvecio': { account: 'helvecio@dc.uece.br', key: 'tok-helvecio' },
  'tok-limited': { account: 'helvecio@dc.uece.br', key: 'tok-limited' },
};
const callers = new WeakMap<Request, SubmissionCaller>();
const bearer: MiddlewareHandler = async (c, next) => {
  const t = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
  const who = t === undefined ? undefined : tokens[t];
  if (!who) return c.json({ error: 'authentication required' }, 401);
  callers.set(c.req.raw, who);
  await next();
};

let site: Site;
let server: ServerType;
let base = '';

before(async () => {
  site = await startSite({ domains: ['dc.uece.br'], users: ['helvecio@dc.uece.br', 'suzana@dc.uece.br', 'pascal@dc.uece.br'] });
  const { intake, directory } = site.app!.backends;
  const policy = smtpPolicyFromConfig(site.config, { directory }).submission;
  const submitter = messageSubmitter({ intake: () => intake, policy: () => policy });
  const common = { submitter, authorize: bearer, caller: (c: Context) => callers.get(c.req.raw), maxMessageSize: 64 * 1024 };
  const app = new Hono()
    .route(SUBMISSION_API_BASE, submissionApi({ ...common, ratePerMinute: 1000 }))
    .route('/limited/api/v1', submissionApi({ ...common, ratePerMinute: 3 }));
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await site.destroy();
});

async function post(body: unknown, headers: Record<string, string> = {}, path = `${SUBMISSION_API_BASE}/messages`): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer tok-helvecio', 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const arrived = (user: string, text: string): Promise<string> =>
  waitFor(`${text} for ${user}`, async () => (await site.messages(user)).find((m) => m.includes(text)));

void test('JSON: 202 with the queue id once durable; delivered with text, html, attachment; Bcc not written', async () => {
  const r = await post({
    from: 'Helvécio <helvecio@dc.uece.br>',
    to: ['suzana@dc.uece.br'],
    bcc: ['pascal@dc.uece.br'],
    subject: 'relatório json',
    text: 'olá',
    html: '<p>olá</p>',
    attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: Buffer.from([1, 2, 3]).toString('base64') }],
  });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.match(String(r.json.id), /^[0-9a-z]+$/);
  const m = await arrived('suzana@dc.uece.br', '=?UTF-8?B?');
  assert.match(m, /with HTTPA id/);
  assert.match(m, /Message-ID: </);
  assert.match(m, /Content-Type: multipart\/mixed/);
  assert.match(m, /filename="a\.bin"/);
  assert.doesNotMatch(m, /^Bcc:/im);
  // the Bcc recipient got it too, without the field
  const p = await arrived('pascal@dc.uece.br', 'multipart/alternative');
  assert.doesNotMatch(p, /^Bcc:/im);
  assert.match(p, /^To: suzana@dc\.uece\.br\r?$/m);
});

void test('no token: 401, nothing stored', async () => {
  const res = await fetch(`${base}${SUBMISSION_API_BASE}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 401);
});

void test('Idempotency-Key: a replay answers the first id and stores nothing twice; another body with the key is 422', async () => {
  const msg = { from: 'helvecio@dc.uece.br', to: ['suzana@dc.uece.br'], subject: 'idem-1', text: 'x' };
  const a = await post(msg, { 'idempotency-key': 'k-1' });
  const b = await post(msg, { 'idempotency-key': 'k-1' });
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
  assert.equal(b.json.id, a.json.id);
  assert.equal(b.headers.get('idempotent-replayed'), 'true');
  const c = await post({ ...msg, text: 'other' }, { 'idempotency-key': 'k-1' });
  assert.equal(c.status, 422);
  await arrived('suzana@dc.uece.br', 'Subject: idem-1');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await site.messages('suzana@dc.uece.br')).filter((m) => m.includes('Subject: idem-1')).length, 1);
});

void test('raw message/rfc822 with the envelope from From and To', async () => {
  const raw = 'From: helvecio@dc.uece.br\r\nTo: pascal@dc.uece.br\r\nSubject: raw-1\r\n\r\ncorpo\r\n';
  const r = await post(raw, { 'content-type': 'message/rfc822' });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  await arrived('pascal@dc.uece.br', 'Subject: raw-1');
});

void test('refusals: oversized 413, a From the account does not own 403, an unknown recipient 422 (nothing sent), bad JSON 400, other types 415', async () => {
  const big = await post({ from: 'helvecio@dc.uece.br', to: ['suzana@dc.uece.br'], text: 'x'.repeat(70 * 1024) });
  assert.equal(big.status, 413);
  const forged = await post({ from: 'suzana@dc.uece.br', to: ['pascal@dc.uece.br'], subject: 'forged', text: 'x' });
  assert.equal(forged.status, 403, JSON.stringify(forged.json));
  const unknown = await post({ from: 'helvecio@dc.uece.br', to: ['suzana@dc.uece.br', 'ninguem@dc.uece.br'], subject: 'partial', text: 'x' });
  assert.equal(unknown.status, 422);
  assert.deepEqual((unknown.json.refused as { recipient: string }[]).map((x) => x.recipient), ['ninguem@dc.uece.br']);
  assert.equal((await post('{not json')).status, 400);
  assert.equal((await post('x', { 'content-type': 'text/plain' })).status, 415);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await site.messages('suzana@dc.uece.br')).some((m) => m.includes('Subject: partial')), false);
});

void test('per-token rate limit: past it 429 with Retry-After', async () => {
  const msg = { from: 'helvecio@dc.uece.br', to: ['suzana@dc.uece.br'], subject: 'rate', text: 'x' };
  const statuses: number[] = [];
  let retry: string | null = null;
  for (let i = 0; i < 4; i++) {
    const r = await post(msg, { authorization: 'Bearer tok-limited' }, '/limited/api/v1/messages');
    statuses.push(r.status);
    retry ??= r.headers.get('retry-after');
  }
  assert.deepEqual(statuses, [202, 202, 202, 429]);
  assert.match(retry ?? '', /^\d+$/);
});
