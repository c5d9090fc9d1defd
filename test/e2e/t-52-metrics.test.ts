/**
 * Issue 13: `[metrics] listen` serves Prometheus /metrics, /healthz and /readyz. Real SMTP
 * traffic (a local delivery, a refused recipient, a failed AUTH, a remote 550 that makes a
 * bounce) and a scrape before and after: each counter moved as it should, the SMTP sessions'
 * included though they run in the acceptor process of the default configuration.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { defaultSmtpProcesses } from '../../src/config/index.js';
import { startSite, sendMail, waitFor, type Site } from '../helpers/site.js';
import { startScriptedPeer, type ScriptedPeer } from '../helpers/scripted-smtp-peer.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let site: Site;
let peer: ScriptedPeer;
let metricsPort: number;

before(async () => {
  // the remote site refuses its recipient: a bounce goes back to the local sender
  peer = await startScriptedPeer({ script: { RCPT: '550 5.1.1 no such user' } });
  site = await startSite({
    domains: ['example.org'],
    users: ['suzana@example.org'],
    smtp: { submission: ['127.0.0.1:0'], tls_cert: tlsCertFile, tls_key: tlsKeyFile, trusted_networks: ['127.0.0.1/32'] },
    tables: `[delivery.routes]\n"example.net" = "smtp:[127.0.0.1]:${peer.port}"\n[metrics]\nlisten = ["127.0.0.1:0"]\n`,
  });
  metricsPort = site.app!.metricsAddresses()[0].port;
});
after(async () => {
  await site.destroy();
  await peer.close();
});

function get(path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: metricsPort, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every sample of the exposition: "name{a="1",b="2"}" → value (labels sorted). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(/,(?=\w+=")/).filter((l) => l !== '').sort().join(',');
    out.set(labels ? `${m[1]}{${labels}}` : m[1], Number(m[3]));
  }
  return out;
}

async function scrape(): Promise<Map<string, number>> {
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return samples(r.body);
}

const v = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;
/** sum of every sample of a metric whose labels include all of `labels` */
function sum(m: Map<string, number>, name: string, labels: string[] = []): number {
  let total = 0;
  for (const [k, x] of m) {
    const lm = /^([^{]+)(?:\{(.*)\})?$/.exec(k)!;
    if (lm[1] !== name) continue;
    const have = (lm[2] ?? '').split(',');
    if (labels.every((l) => have.includes(l))) total += x;
  }
  return total;
}

test('health and readiness answer; other paths and methods are refused', async () => {
  assert.deepEqual(
    await get('/healthz').then((r) => [r.status, r.body]),
    [200, 'ok\n'],
  );
  assert.deepEqual(
    await get('/readyz').then((r) => [r.status, r.body]),
    [200, 'ready\n'],
  );
  assert.equal((await get('/nothing')).status, 404);
  assert.equal((await get('/metrics', 'POST')).status, 405);
});

test('after real traffic the counters moved as they should', async () => {
  const before = await scrape();
  assert.equal(v(before, 'correio_up'), 1);
  assert.ok(before.has('process_cpu_user_seconds_total'), 'process metrics are there');

  // 1. a local delivery
  const ok = await sendMail(site, 'jacques@client.test', ['suzana@example.org'], 'Subject: metered\n\nhello\n');
  assert.match(ok.final ?? '', /^250 /);
  // 2. a recipient refused at RCPT (the message still goes to the other)
  const half = await sendMail(site, 'jacques@client.test', ['nobody@example.org', 'suzana@example.org'], 'Subject: half\n\nhi\n');
  assert.match(half.rcpt[0], /^550 /);
  // 3. a failed login on the submission port
  const sub = site.app!.smtpAddresses().find((a) => a.mode === 'submission')!.port;
  const c = await SmtpTestClient.open(sub);
  await c.readReply();
  await c.command('EHLO client.test');
  await c.smtpStartTls();
  await c.command('EHLO client.test');
  assert.match((await c.authPlain('suzana@example.org', 'wrong')) ?? '', /^535 /);
  c.close();
  // 4. mail to the remote site, refused there: bounced, and a DSN back to suzana
  const remote = await sendMail(site, 'suzana@example.org', ['bob@example.net'], 'Subject: to be bounced\n\nx\n');
  assert.match(remote.final ?? '', /^250 /);
  await site.waitForMessages('suzana@example.org', 3);

  const after = await waitFor('the bounce to be counted', async () => {
    const m = await scrape();
    return sum(m, 'correio_dsn_generated_total') >= 1 && sum(m, 'correio_deliveries_total', ['result="delivered"']) >= 3 ? m : undefined;
  });
  const delta = (key: string, labels: string[] = []): number => sum(after, key, labels) - sum(before, key, labels);
  assert.equal(delta('correio_smtpd_connects_total', ['listener="mx"']), 3);
  assert.equal(delta('correio_smtpd_connects_total', ['listener="submission"']), 1);
  assert.equal(delta('correio_messages_received_total', ['protocol="ESMTP"']), 3);
  assert.equal(delta('correio_messages_received_total', ['protocol="internal"']), 1, 'the bounce re-entered through intake');
  assert.equal(delta('correio_smtpd_messages_rejected_total', ['code="550"', 'stage="rcpt"']), 1);
  assert.equal(delta('correio_sasl_authentication_failures_total', ['protocol="smtp"']), 1);
  assert.equal(delta('correio_deliveries_total', ['transport="smtp"', 'result="bounced"']), 1);
  // two direct messages and the bounce, each delivered into suzana's mailbox
  assert.equal(delta('correio_deliveries_total', ['result="delivered"']), 3);
  assert.equal(delta('correio_delivery_delay_seconds_count'), 3);
  assert.equal(delta('correio_dsn_generated_total'), 1);
  assert.ok(after.has('correio_queue_size{state="queued"}'), 'queue gauges by state');
  // the default configuration's SMTP acceptor process (one core: SMTP runs in the server, no gauges)
  if (defaultSmtpProcesses() > 1) {
    assert.equal(v(after, 'correio_smtp_acceptor_processes'), 1);
    assert.ok(v(after, 'correio_smtp_acceptor_resident_memory_bytes') > 10 * 1024 * 1024, 'the acceptor\'s RSS');
    assert.equal(v(after, 'correio_smtp_acceptor_exits'), 0);
  }
  // open sessions per listener, every listening one included (the open-session case is the next test)
  for (const key of ['correio_sessions{listener="mx",service="smtp"}', 'correio_sessions{listener="submission",service="smtp"}', 'correio_sessions{listener="pop3",service="pop3"}']) {
    assert.ok(after.has(key), key);
  }
});

test('while a stop drains a session, /readyz answers 503 (and /healthz still 200)', async () => {
  const c = await SmtpTestClient.open(site.port);
  await c.readReply();
  await c.command('EHLO client.test');
  assert.match((await c.command('MAIL FROM:<jacques@client.test>')) ?? '', /^250 /);
  // the session runs in the SMTP acceptor process (`[smtp] processes`, default 2), which tells the
  // server its open sessions when they change, within half a second
  await waitFor('the open session counted', async () => samples((await get('/metrics')).body).get('correio_sessions{listener="mx",service="smtp"}') === 1);
  const stopping = site.stop();
  const r = await waitFor('readyz to turn 503', async () => {
    const x = await get('/readyz');
    return x.status === 503 ? x : undefined;
  });
  assert.equal(r.body, 'not ready\n');
  assert.equal((await get('/healthz')).status, 200);
  // the session in progress may still finish its transaction
  assert.match((await c.command('RCPT TO:<suzana@example.org>')) ?? '', /^250 /);
  await c.command('QUIT');
  c.close();
  await stopping;
});
