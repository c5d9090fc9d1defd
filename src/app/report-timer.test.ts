/**
 * The daily report timer of `serve` (report-timer.ts): when it runs (the next `send_at`, UTC),
 * and, with an injected clock and timer on a real site with a real DNS server, that a run at
 * the set time mails the day before's TLS report and DMARC aggregate report to the addresses
 * the DNS names, schedules the next run a day later, and sends nothing twice. Then a site
 * started with `[reports] send_tls = true` after its `send_at` sends the day before's report by
 * itself (no command run).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReportStore } from '../policy/index.js';
import { nextRunAt, previousDay, ReportTimer } from './report-timer.js';
import { startSite, type Site } from '../../test/helpers/site.js';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';

let dns: DnsTestServer;
const sites: Site[] = [];
const dirs: string[] = [];

before(async () => {
  dns = await startDnsServer({
    '_smtp._tls.far.test': { txt: ['v=TLSRPTv1; rua=mailto:tlsrpt@localhost'] },
    // RFC 7489 §7.1: localhost agrees to receive dm.test's reports
    'dm.test._report._dmarc.localhost': { txt: ['v=DMARC1'] },
  });
});
after(async () => {
  for (const s of sites) await s.destroy();
  await dns.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

void test('the next run is the next send_at (UTC); the report day is the one before', () => {
  const t = Date.parse('2026-12-05T00:30:00Z');
  assert.equal(new Date(nextRunAt(t, 60)).toISOString(), '2026-12-05T01:00:00.000Z');
  assert.equal(new Date(nextRunAt(Date.parse('2026-12-05T01:00:00Z'), 60)).toISOString(), '2026-12-06T01:00:00.000Z');
  assert.equal(new Date(nextRunAt(Date.parse('2026-12-31T23:59:00Z'), 0)).toISOString(), '2027-01-01T00:00:00.000Z');
  assert.equal(previousDay(Date.parse('2027-01-01T00:00:00Z')), '2026-12-31');
});

/** Records a TLS session for far.test and a DMARC evaluation for dm.test at `at`. */
function record(dataDir: string, at: number): void {
  const store = ReportStore.open(join(dataDir, 'reports.sqlite'));
  try {
    store.recordTls({ domain: 'far.test', policyType: 'sts', policyStrings: ['version: STSv1', 'mode: testing'], mxHost: 'mx.far.test', receivingIp: '127.0.0.9', result: 'certificate-expired', at });
    store.recordDmarc({
      at,
      policy: { domain: 'dm.test', adkim: 'r', aspf: 'r', p: 'none', sp: 'none', pct: 100, rua: ['mailto:dmarc@localhost'] },
      row: { sourceIp: '127.0.0.9', headerFrom: 'dm.test', disposition: 'none', dkim: 'fail', spf: 'pass', dkimResults: [], spfResult: { domain: 'dm.test', scope: 'mfrom', result: 'pass' } },
    });
  } finally {
    store.close();
  }
}

void test('with an injected clock: at send_at the day before is reported, the next run is a day later, nothing goes twice', async () => {
  const site = await startSite({ users: ['tlsrpt@localhost', 'dmarc@localhost'], delivery: { dns_servers: [dns.server] } });
  sites.push(site);
  record(site.dataDir, Date.parse('2026-11-19T12:00:00Z'));
  let now = Date.parse('2026-11-20T00:30:00Z');
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const lines: string[] = [];
  const timer = new ReportTimer({
    config: () => ({ ...site.config, reports: { ...site.config.reports, sendTls: true, sendDmarc: true, sendAt: 60 } }),
    backends: site.app!.backends,
    clock: { now: () => now },
    log: (kind, line) => lines.push(`${kind} ${line}`),
    setTimer: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      timers.push(t);
      return { clear: () => (t.cleared = true) };
    },
  });
  timer.start();
  assert.equal(timers.length, 1);
  assert.equal(timers[0].ms, 30 * 60_000, 'before 01:00: waits until 01:00');
  assert.equal(lines.length, 0, 'nothing sent before the time');

  now = Date.parse('2026-11-20T01:00:00Z');
  timers[0].fn();
  await timer.run();
  assert.ok(lines.includes('tls far.test: report for 2026-11-19 sent to mailto:tlsrpt@localhost'), lines.join('\n'));
  assert.ok(lines.includes('dmarc dm.test: report for 2026-11-19 sent to mailto:dmarc@localhost'), lines.join('\n'));
  const [tlsMail] = await site.waitForMessages('tlsrpt@localhost', 1);
  assert.match(tlsMail, /^TLS-Report-Domain: far\.test$/m);
  const [dmarcMail] = await site.waitForMessages('dmarc@localhost', 1);
  assert.match(dmarcMail, /^Subject: Report Domain: dm\.test Submitter: /m);
  const next = timers.at(-1)!;
  assert.equal(next.ms, 86_400_000, 'the next run is tomorrow at 01:00');

  lines.length = 0;
  await timer.run();
  assert.ok(lines.includes('tls far.test: the report for 2026-11-19 was sent already'), lines.join('\n'));
  await timer.stop();
  assert.equal(timers.at(-1)!.cleared, true, 'stop clears the timer');
  assert.equal((await site.messages('tlsrpt@localhost')).length, 1, 'not sent twice');
});

void test('serve with [reports] send_tls = true, started after send_at, sends the day before by itself', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-report-timer-'));
  dirs.push(dir);
  const dataDir = join(dir, 'var');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dataDir, { recursive: true });
  record(dataDir, Date.now() - 86_400_000);
  const site = await startSite({ dataDir, users: ['tlsrpt@localhost', 'dmarc@localhost'], delivery: { dns_servers: [dns.server] }, tables: '[reports]\nsend_tls = true\nsend_at = "00:00"\n' });
  sites.push(site);
  const [mail] = await site.waitForMessages('tlsrpt@localhost', 1);
  assert.match(mail, /^TLS-Report-Domain: far\.test$/m);
  assert.deepEqual(await site.messages('dmarc@localhost'), [], 'send_dmarc is off');
});
