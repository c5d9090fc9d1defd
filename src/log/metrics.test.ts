import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { channels } from '../core/index.js';
import { startMetrics } from './metrics.js';

void test('the queue gauges are filled on the first scrape, from one walk of the spool', async () => {
  let walks = 0;
  const metrics = startMetrics({
    queue: () => {
      walks++;
      return Promise.resolve([
        { state: 'deferred', count: 3, oldestSeconds: 60 },
        { state: 'held', count: 1, oldestSeconds: 5 },
      ]);
    },
  });
  try {
    const text = await metrics.registry.metrics();
    assert.match(text, /^correio_queue_size\{state="deferred"\} 3$/m);
    assert.match(text, /^correio_queue_size\{state="held"\} 1$/m);
    assert.match(text, /^correio_queue_oldest_age_seconds\{state="deferred"\} 60$/m);
    assert.equal(walks, 1, 'one walk per scrape');
  } finally {
    metrics.stop();
  }
});

void test('a slow walk of the queue is used again for ten times as long as it took, its ages moved on', async () => {
  let t = 1_000_000;
  let walks = 0;
  const metrics = startMetrics({
    now: () => t,
    queue: () => {
      walks++;
      t += 2_000; // the walk takes 2 s
      return Promise.resolve([{ state: 'deferred', count: 3, oldestSeconds: 60 }, { state: 'held', count: 0, oldestSeconds: 0 }]);
    },
  });
  try {
    await metrics.registry.metrics();
    t += 15_000;
    const again = await metrics.registry.metrics();
    assert.equal(walks, 1, '15 s after a 2 s walk: its result');
    assert.match(again, /^correio_queue_oldest_age_seconds\{state="deferred"\} 75$/m);
    assert.match(again, /^correio_queue_oldest_age_seconds\{state="held"\} 0$/m);
    t += 6_000;
    await metrics.registry.metrics();
    assert.equal(walks, 2, '21 s after it: walked again');
  } finally {
    metrics.stop();
  }
});

void test('events move the counters; labels stay bounded', async () => {
  const metrics = startMetrics({ now: () => 10_000 });
  try {
    diagnostics.channel(channels.delivered).publish({ route: 'local:suzana@example.org', arrivedAt: 4_000 });
    diagnostics.channel(channels.rejected).publish({ stage: 'rcpt', reply: { code: 550 } });
    diagnostics.channel(channels.rejected).publish({ stage: 'made-up-stage', reply: '421 4.3.2 bye' });
    diagnostics.channel(channels.connection).publish({ session: 'x', mode: 'evil"label' });
    const text = await metrics.registry.metrics();
    assert.match(text, /^correio_deliveries_total\{transport="local",result="delivered"\} 1$/m);
    assert.match(text, /^correio_delivery_delay_seconds_sum\{transport="local"\} 6$/m);
    assert.match(text, /^correio_smtpd_messages_rejected_total\{code="550",stage="rcpt"\} 1$/m);
    assert.match(text, /^correio_smtpd_messages_rejected_total\{code="421",stage="other"\} 1$/m);
    assert.match(text, /^correio_smtpd_connects_total\{listener="other"\} 1$/m);
  } finally {
    metrics.stop();
  }
});

void test('DNS lookups fill a histogram by record type and outcome; unknown labels are "other"', async () => {
  const metrics = startMetrics();
  try {
    diagnostics.channel(channels.dnsLookup).publish({ type: 'MX', outcome: 'found', seconds: 0.003 });
    diagnostics.channel(channels.dnsLookup).publish({ type: 'MX', outcome: 'temporary', seconds: 2 });
    diagnostics.channel(channels.dnsLookup).publish({ type: 'X"Y', outcome: 'odd', seconds: 0.5 });
    const text = await metrics.registry.metrics();
    assert.match(text, /^correio_dns_lookup_seconds_count\{type="MX",outcome="found"\} 1$/m);
    assert.match(text, /^correio_dns_lookup_seconds_bucket\{le="0.005",type="MX",outcome="found"\} 1$/m);
    assert.match(text, /^correio_dns_lookup_seconds_sum\{type="MX",outcome="temporary"\} 2$/m);
    assert.match(text, /^correio_dns_lookup_seconds_count\{type="other",outcome="other"\} 1$/m);
  } finally {
    metrics.stop();
  }
});
