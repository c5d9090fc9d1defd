import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { channels, relayedEvent, relayedJson } from '../core/index.js';
import { pino } from 'pino';
import { startMailLog, TAIL_LINES, type LineLogger } from './mail-log.js';

const quiet: LineLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

void test('the mail log keeps its last events for the tail, oldest first, bounded', () => {
  const log = startMailLog(quiet);
  try {
    diagnostics.channel(channels.received).publish({ queueId: 'q1', from: 'a@example.org' });
    diagnostics.channel(channels.deferred).publish({ queueId: 'q1', reply: '451 later' });
    const two = log.tail(10).map((l) => JSON.parse(l) as { event: string; queueId: string });
    assert.deepEqual(two.map((e) => [e.event, e.queueId]), [['received', 'q1'], ['deferred', 'q1']]);
    assert.equal(log.tail(1).length, 1);
    for (let i = 0; i < TAIL_LINES + 5; i++) diagnostics.channel(channels.queued).publish({ queueId: `n${i}` });
    const all = log.tail(TAIL_LINES * 2);
    assert.equal(all.length, TAIL_LINES);
    assert.equal((JSON.parse(all[0]) as { queueId: string }).queueId, 'n5');
    assert.equal((JSON.parse(all.at(-1)!) as { queueId: string }).queueId, `n${TAIL_LINES + 4}`);
  } finally {
    log.stop();
  }
});

void test('the tail shows each event as it was published: time and event first, its fields after; one JSON cannot write is kept as time and event', () => {
  const log = startMailLog(quiet);
  try {
    diagnostics.channel(channels.queued).publish({ queueId: 'q2', recipients: ['a@example.org'], size: 5 });
    const circular: Record<string, unknown> = { queueId: 'q3' };
    circular.self = circular;
    diagnostics.channel(channels.queued).publish(circular);
    const [first, second] = log.tail(2).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(first), ['time', 'event', 'queueId', 'recipients', 'size']);
    assert.deepEqual({ ...first, time: undefined }, { time: undefined, event: 'queued', queueId: 'q2', recipients: ['a@example.org'], size: 5 });
    assert.match(first.time as string, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(Object.keys(second), ['time', 'event']);
  } finally {
    log.stop();
  }
});

void test('the tail keeps an acceptor\'s relayed event as its text came, not serialised again', () => {
  const log = startMailLog(quiet);
  try {
    // the same fields in another order than the object's: the line shows which was kept
    diagnostics.channel(channels.received).publish({ messageId: 'M3', size: 7, [relayedEvent]: true, [relayedJson]: '{"size":7,"messageId":"M3"}' });
    const [line] = log.tail(1);
    assert.match(line, /^\{"time":"[^"]+","event":"received","size":7,"messageId":"M3"\}$/);
  } finally {
    log.stop();
  }
});

void test('an event\'s line written from its one JSON text is the line pino writes for it, at pino\'s levels', () => {
  const written: string[] = [];
  const own: string[] = [];
  const opts = { level: 'info', base: { hostname: 'mx.example', role: 'acceptor' } };
  const logger = pino(opts, { write: (l: string) => void own.push(l) });
  const reference = pino(opts, { write: (l: string) => void written.push(l) });
  const log = startMailLog(logger, { write: (l: string) => void written.push(l) });
  const events: [keyof typeof channels, Record<string, unknown>, 'info' | 'warn' | 'error'][] = [
    ['received', { messageId: 'M1', sender: 'a@example.org', recipients: ['b@example.net', 'ç@exämple.net'], size: 5120, client: { ip: '127.0.0.1' }, helo: undefined, tls: false, note: 'a "quoted"\nline\u2028' }, 'info'],
    ['queued', {}, 'info'],
    ['deferred', { envelopeId: 'M1-0', reply: '451 4.4.1 later', odd: Number.NaN, f: () => 1 }, 'warn'],
    ['error', { error: new Error('disk full'), where: 'spool' }, 'error'],
  ];
  try {
    for (const [name, fields, level] of events) {
      diagnostics.channel(channels[name]).publish(fields);
      reference[level](fields.error instanceof Error ? { ...fields, error: fields.error.message } : fields, name);
    }
    assert.equal(own.length, 0, 'the lines went to the output, not through pino');
    const clock = (l: string): string => l.replace(/"time":\d+/, '"time":0');
    assert.equal(written.length, 2 * events.length);
    for (let i = 0; i < events.length; i++) assert.equal(clock(written[2 * i]), clock(written[2 * i + 1]));
    logger.level = 'warn';
    diagnostics.channel(channels.received).publish({ messageId: 'M2' });
    assert.equal(written.length, 2 * events.length, 'an info event is not written when the level is warn');
  } finally {
    log.stop();
  }
});

void test('an acceptor\'s mail log (keep: false) writes its events\' lines and neither counts nor keeps them', async () => {
  const written: string[] = [];
  const logger = pino({ level: 'info', base: { hostname: 'mx.example', role: 'acceptor' } }, { write: () => undefined });
  const log = startMailLog(logger, { write: (l: string) => void written.push(l) }, { keep: false });
  try {
    diagnostics.channel(channels.connection).publish({ session: 's1' });
    diagnostics.channel(channels.received).publish({ messageId: 'M4', size: 9 });
    diagnostics.channel(channels.rejected).publish({ stage: 'rcpt', reply: '550 5.1.1 no' });
    assert.deepEqual(written.map((l) => (JSON.parse(l) as { msg: string; level: number }).msg), ['received', 'rejected']);
    assert.equal((JSON.parse(written[1]) as { level: number }).level, 40);
    assert.deepEqual(log.tail(10), []);
    assert.equal(await log.registry.metrics(), '\n');
  } finally {
    log.stop();
  }
});
