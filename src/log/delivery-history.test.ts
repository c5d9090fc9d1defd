/**
 * The delivery history's writer: each published event becomes one JSON line with its own fields
 * plus `event` and `time` (which win over fields of the same name), in the file of its UTC day;
 * findHistory and findByMessageIdField read them back.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { channels, relayedEvent, relayedJson } from '../core/index.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { DeliveryHistory, findByMessageIdField, findHistory, historyDir } from './delivery-history.js';

const beforeMidnight = Date.UTC(2026, 11, 5, 23, 59, 59, 900);

void test('DeliveryHistory: one line per event, event and time added, a new file at midnight UTC', () =>
  withTempDir('correio-history-', async (dataDir) => {
    let now = beforeMidnight;
    const history = new DeliveryHistory({ dataDir, retentionMs: 7 * 86_400_000, now: () => now });
    history.start();
    try {
      diagnostics.channel(channels.received).publish({
        messageId: 'm1', sender: 'a@example.org', recipients: ['suzana@dc.uece.br'], size: 120, messageIdHeader: '<x1@example.org>',
        event: 'not this', time: 1,
      });
      now += 50;
      diagnostics.channel(channels.queued).publish({ envelopeId: 'm1-1', messageId: 'm1', recipient: 'suzana@dc.uece.br', route: 'local:' });
      now += 100; // past midnight
      diagnostics.channel(channels.delivered).publish({ envelopeId: 'm1-1', messageId: 'm1', recipient: 'suzana@dc.uece.br', status: '2.0.0' });
      diagnostics.channel(channels.admin).publish({ action: 'user add', address: 'x@dc.uece.br' }); // no messageId: not kept
      diagnostics.channel(channels.deferred).publish({});
    } finally {
      await history.stop();
    }
    const dir = historyDir(dataDir);
    assert.deepEqual(readdirSync(dir).sort(), ['2026-12-05.jsonl', '2026-12-06.jsonl']);
    const day1 = readFileSync(join(dir, '2026-12-05.jsonl'), 'utf8').split('\n');
    assert.equal(day1.length, 3);
    assert.equal(day1[2], '');
    assert.deepEqual(JSON.parse(day1[0]), {
      messageId: 'm1', sender: 'a@example.org', recipients: ['suzana@dc.uece.br'], size: 120, messageIdHeader: '<x1@example.org>',
      event: 'received', time: beforeMidnight,
    });
    assert.deepEqual(JSON.parse(day1[1]), { envelopeId: 'm1-1', messageId: 'm1', recipient: 'suzana@dc.uece.br', route: 'local:', event: 'queued', time: beforeMidnight + 50 });
    const day2 = readFileSync(join(dir, '2026-12-06.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as object);
    assert.deepEqual(day2, [
      { envelopeId: 'm1-1', messageId: 'm1', recipient: 'suzana@dc.uece.br', status: '2.0.0', event: 'delivered', time: beforeMidnight + 150 },
      { event: 'deferred', time: beforeMidnight + 150 },
    ]);
    assert.deepEqual((await findHistory(dataDir, 'm1-1')).map((e) => e.event), ['received', 'queued', 'delivered']);
    // the queue id itself, and a text that only looks like an envelope id (the queue id grammar, core/envelope.ts) is not cut
    assert.deepEqual((await findHistory(dataDir, 'm1')).map((e) => e.event), ['received', 'queued', 'delivered']);
    assert.deepEqual(await findHistory(dataDir, 'm1/x-1'), []);
    assert.deepEqual(await findByMessageIdField(dataDir, 'x1@example.org'), ['m1']);
  }));

void test('DeliveryHistory: an acceptor\'s relayed event is written as its text came, not serialised again', () =>
  withTempDir('correio-history-', async (dataDir) => {
    const history = new DeliveryHistory({ dataDir, retentionMs: 7 * 86_400_000, now: () => beforeMidnight });
    history.start();
    try {
      // the same fields, in another order than the object's: the line shows which was written
      const fields = { messageId: 'm2', size: 7, [relayedEvent]: true, [relayedJson]: '{"size":7,"messageId":"m2"}' };
      diagnostics.channel(channels.received).publish(fields);
      diagnostics.channel(channels.queued).publish({ messageId: 'm2', envelopeId: 'm2-1', [relayedEvent]: true, [relayedJson]: undefined });
    } finally {
      await history.stop();
    }
    const lines = readFileSync(join(historyDir(dataDir), '2026-12-05.jsonl'), 'utf8').split('\n');
    assert.deepEqual(lines, [
      `{"size":7,"messageId":"m2","event":"received","time":${beforeMidnight}}`,
      `{"messageId":"m2","envelopeId":"m2-1","event":"queued","time":${beforeMidnight}}`,
      '',
    ]);
  }));
