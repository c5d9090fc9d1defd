/**
 * t-82 (issue 18): the webhook gateway through the whole system. A site routes two domains to
 * a real node:http server on 127.0.0.1 (`[delivery.routes]` "webhook:http://…", a secret in
 * `[webhook] secrets`): the first answers 503 once and then 200, so the message is deferred,
 * retried and delivered with a valid signature each time; the second answers 400, so the
 * sender gets a failure DSN naming the answer. An alias target "webhook:http://…" posts too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSite, sendMail, waitFor, type Site } from '../helpers/site.js';
import { webhookSignature } from '../../src/transport/index.js';

const secret = '0123456789abcdef0123456789abcdef';
const hits: { url: string; status: number; signature: string; body: string }[] = [];
let server: http.Server;
let site: Site;
let failFirst = true;

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      if (req.url === '/reject') status = 400;
      else if (req.url === '/alias') status = 204;
      else if (failFirst) {
        failFirst = false;
        status = 503;
      }
      hits.push({ url: req.url ?? '', status, signature: String(req.headers['correio-signature'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  site = await startSite({
    hostname: 'mx.dsc.ufpb.br',
    domains: ['dsc.ufpb.br'],
    users: ['helvecio@dsc.ufpb.br'],
    aliases: { 'pedidos@dsc.ufpb.br': [`webhook:${base}/alias`, 'helvecio@dsc.ufpb.br'] },
    delivery: { retry_min: '1s', retry_max: '1s' },
    tables: `[delivery.routes]\n"app.example" = "webhook:${base}/hook"\n"reject.example" = "webhook:${base}/reject"\n[webhook]\ntimeout = "10s"\n[webhook.secrets]\n"${base}/hook" = "${secret}"\n`,
  });
});

after(async () => {
  await site.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

void test('503 defers, the retry delivers with a valid signature; 400 bounces to the sender', async () => {
  const r = await sendMail(site, 'helvecio@dsc.ufpb.br', ['orders@app.example'], 'From: helvecio@dsc.ufpb.br\nSubject: pedido\n\n1 kg de caju\n');
  assert.match(r.final ?? '', /^250 /);
  const delivered = await waitFor('the retried POST', () => hits.find((h) => h.url === '/hook' && h.status === 200));
  const first = hits.find((h) => h.url === '/hook' && h.status === 503)!;
  assert.ok(first, 'the first attempt was answered 503');
  for (const h of [first, delivered]) {
    const t = Number(/^t=(\d+),/.exec(h.signature)?.[1]);
    assert.equal(h.signature, webhookSignature(secret, t, h.body));
  }
  const doc = JSON.parse(delivered.body) as { envelope: { from: string; to: string[] }; subject: string; text: string };
  assert.deepEqual(doc.envelope, { from: 'helvecio@dsc.ufpb.br', to: ['orders@app.example'] });
  assert.equal(doc.subject, 'pedido');
  assert.match(doc.text, /1 kg de caju/);

  await sendMail(site, 'helvecio@dsc.ufpb.br', ['x@reject.example'], 'From: helvecio@dsc.ufpb.br\nSubject: nao\n\nx\n');
  const dsn = await waitFor('the failure DSN', async () => (await site.messages('helvecio@dsc.ufpb.br')).find((m) => m.includes('x@reject.example')));
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.0\.0/);
  assert.match(dsn, /answered HTTP 400/);
  // the route without a secret is posted unsigned
  assert.equal(hits.find((h) => h.url === '/reject')!.signature, '');
});

void test('an alias target webhook:http://127.0.0.1:…/alias posts the message, beside a mailbox target', async () => {
  const r = await sendMail(site, 'helvecio@dsc.ufpb.br', ['pedidos@dsc.ufpb.br'], 'From: helvecio@dsc.ufpb.br\nSubject: via alias\n\nx\n');
  assert.match(r.final ?? '', /^250 /);
  const hit = await waitFor('the alias POST', () => hits.find((h) => h.url === '/alias'));
  assert.equal((JSON.parse(hit.body) as { subject: string }).subject, 'via alias');
  await waitFor('the mailbox copy', async () => (await site.messages('helvecio@dsc.ufpb.br')).some((m) => m.includes('Subject: via alias')));
});
