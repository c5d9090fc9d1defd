import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { channels } from '../core/index.js';
import { startMetrics } from './metrics.js';

void test('the queue gauges read their source at each scrape (counts, ages, loaded), nothing cached', async () => {
  let counts = [{ state: 'deferred', count: 3 }, { state: 'held', count: 1 }];
  let loaded = false;
  let reads = 0;
  const metrics = startMetrics({
    queue: {
      counts: () => {
        reads++;
        return counts;
      },
      ages: () => [{ state: 'deferred', seconds: 60 }, { state: 'held', seconds: 0 }],
      loaded: () => loaded,
    },
  });
  try {
    const text = await metrics.registry.metrics();
    assert.match(text, /^correio_queue_size\{state="deferred"\} 3$/m);
    assert.match(text, /^correio_queue_size\{state="held"\} 1$/m);
    assert.match(text, /^correio_queue_oldest_age_seconds\{state="deferred"\} 60$/m);
    assert.match(text, /^correio_queue_loaded 0$/m);
    counts = [{ state: 'deferred', count: 2 }, { state: 'held', count: 2 }];
    loaded = true;
    const again = await metrics.registry.metrics();
    assert.match(again, /^correio_queue_size\{state="deferred"\} 2$/m);
    assert.match(again, /^correio_queue_size\{state="held"\} 2$/m);
    assert.match(again, /^correio_queue_loaded 1$/m);
    assert.equal(reads, 2, 'one read per scrape');
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
