/**
 * The webhook transport against a real node:http server on 127.0.0.1: what it posts (the
 * envelope, header fields, text, html, an attachment in base64, a signature a receiver can
 * check), and how each answer becomes a per-recipient outcome: 200 delivered, 400 failed,
 * 503 and 429 delayed, no answer delayed (4.4.7), nobody listening delayed (4.4.2), and an
 * http:// URL to a host that is not loopback refused without a request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { WebhookTransport, webhookSignature } from './webhook-transport.js';
import type { DeliveryRequest } from '../core/index.js';
import { testEnvelope } from '../../test/helpers/delivery-request.js';

interface Hit {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const hits: Hit[] = [];
let server: http.Server;
let base = '';
const secret = 'a-shared-secret-of-32-characters';

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const code = Number(/\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 200);
      if (req.url === '/hang') return; // never answers
      res.writeHead(code, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const message = [
  'From: Helvécio <helvecio@dsc.ufpb.br>',
  'To: suzana@dc.uece.br',
  'Subject: =?utf-8?q?rel=C3=B3rio?=',
  'Message-ID: <m1@dsc.ufpb.br>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: multipart/alternative; boundary="c"',
  '',
  '--c',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'olá texto',
  '--c',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>olá html</p>',
  '--c--',
  '--b',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from([0, 1, 2, 255]).toString('base64'),
  '--b--',
  '',
].join('\r\n');

function request(url: string, recipients = ['suzana@dc.uece.br', 'pascal@dc.uece.br']): DeliveryRequest {
  const envelopes = recipients.map((r, i) => {
    const [local, domain] = r.split('@');
    return testEnvelope({ id: `E${i}`, messageId: 'M1', sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, recipient: { local, domain }, route: { transport: 'webhook', nextHop: url }, size: message.length });
  });
  return {
    route: { transport: 'webhook', nextHop: url },
    messageId: 'M1',
    sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
    envelopes,
    size: message.length,
    openMessage: () => Promise.resolve(Readable.from([Buffer.from(message)])),
  };
}

const deliver = (t: WebhookTransport, url: string): ReturnType<WebhookTransport['deliver']> => t.deliver(request(url), new AbortController().signal);

void test('200: delivered for every recipient; the JSON carries envelope, headers, text, html and the attachment; the signature checks', async () => {
  const url = `${base}/in/200`;
  const t = new WebhookTransport({ secrets: { [url]: secret }, hostname: 'mx.dc.uece.br' });
  const out = await deliver(t, url);
  assert.deepEqual(out.map((s) => [s.envelopeId, s.action, s.status]), [['E0', 'delivered', '2.0.0'], ['E1', 'delivered', '2.0.0']]);
  const hit = hits.at(-1)!;
  assert.equal(hit.headers['content-type'], 'application/json');
  assert.equal(hit.headers['correio-message-id'], 'M1');
  const doc = JSON.parse(hit.body) as Record<string, unknown> & { attachments: { filename: string; content: string; contentType: string }[] };
  assert.deepEqual(doc.envelope, { from: 'helvecio@dsc.ufpb.br', to: ['suzana@dc.uece.br', 'pascal@dc.uece.br'] });
  assert.equal(doc.subject, 'relório');
  assert.equal(doc.messageId, '<m1@dsc.ufpb.br>');
  assert.match(String(doc.text), /olá texto/);
  assert.match(String(doc.html), /<p>olá html<\/p>/);
  assert.deepEqual((doc.from as { address: string }).address, 'helvecio@dsc.ufpb.br');
  assert.ok((doc.headers as { name: string }[]).some((h) => h.name === 'Subject'));
  assert.equal(doc.attachments.length, 1);
  assert.equal(doc.attachments[0].filename, 'data.bin');
  assert.deepEqual([...Buffer.from(doc.attachments[0].content, 'base64')], [0, 1, 2, 255]);
  // a receiver's check: HMAC-SHA256 over "<t>.<body>" with the shared secret
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hit.headers['correio-signature']));
  assert.ok(m, String(hit.headers['correio-signature']));
  const expected = createHmac('sha256', secret).update(`${m[1]}.${hit.body}`).digest();
  assert.ok(timingSafeEqual(expected, Buffer.from(m[2], 'hex')));
  assert.equal(webhookSignature(secret, Number(m[1]), hit.body), hit.headers['correio-signature']);
});

void test('no secret configured for the URL: posted unsigned', async () => {
  await deliver(new WebhookTransport(), `${base}/plain/200`);
  assert.equal(hits.at(-1)!.headers['correio-signature'], undefined);
});

void test('400: failed 5.0.0 for every recipient, the answer in the diagnostic', async () => {
  const out = await deliver(new WebhookTransport(), `${base}/in/400`);
  assert.deepEqual(out.map((s) => [s.action, s.status]), [['failed', '5.0.0'], ['failed', '5.0.0']]);
  assert.match(out[0].error ?? '', /answered HTTP 400 Bad Request/);
  assert.equal(out[0].remoteMta, base.replace('http://', ''));
});

void test('503 and 429: delayed, retried like SMTP', async () => {
  for (const code of [503, 429]) {
    const out = await deliver(new WebhookTransport(), `${base}/in/${code}`);
    assert.deepEqual(out.map((s) => [s.action, s.status]), [['delayed', '4.0.0'], ['delayed', '4.0.0']]);
  }
});

void test('no answer within the timeout: delayed 4.4.7', async () => {
  const out = await deliver(new WebhookTransport({ timeoutMs: 300 }), `${base}/hang`);
  assert.deepEqual(out.map((s) => [s.action, s.status]), [['delayed', '4.4.7'], ['delayed', '4.4.7']]);
});

void test('nobody listening: delayed 4.4.2', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const a = closed.address();
  await new Promise((r) => closed.close(r));
  const out = await deliver(new WebhookTransport(), `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 1}/x`);
  assert.equal(out[0].action, 'delayed');
  assert.equal(out[0].status, '4.4.2');
  assert.match(out[0].error ?? '', /ECONNREFUSED/);
});

void test('http:// to a host that is not loopback: failed 5.4.4, nothing sent', async () => {
  const n = hits.length;
  const out = await deliver(new WebhookTransport(), 'http://192.0.2.1/in');
  assert.equal(out[0].action, 'failed');
  assert.equal(out[0].status, '5.4.4');
  assert.match(out[0].error ?? '', /loopback hosts only/);
  assert.equal(hits.length, n);
});
