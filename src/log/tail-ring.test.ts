import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TailRing } from './tail-ring.js';

/** The line as the mail log wrote it when it kept the event objects. */
const expected = (time: number, event: string, fields: object): string => {
  try {
    return JSON.stringify({ time: new Date(time).toISOString(), event, ...fields });
  } catch {
    return JSON.stringify({ time: new Date(time).toISOString(), event });
  }
};

void test('the tail ring gives each event as JSON.stringify({ time, event, ...fields }) would, odd fields included', () => {
  const ring = new TailRing(10);
  const circular: Record<string, unknown> = { id: 'c' };
  circular.self = circular;
  const events: [number, string, object][] = [
    [1_700_000_000_000, 'received', { messageId: 'm1', recipients: ['a@example.org', 'ü@exämple.org'], size: 5120, tls: 'TLSv1.3 X' }],
    [1_700_000_000_001, 'queued', {}],
    [1_700_000_000_002, 'admin', { time: 'theirs', action: 'flush' }],
    [1_700_000_000_003, 'error', { 2: 'two', where: 'x' }],
    [1_700_000_000_004, 'error', { big: 1n }],
    [1_700_000_000_005, 'queued', circular],
    [1_700_000_000_006, 'queued', { toJSON: () => ({ shown: true }) }],
    [1_700_000_000_007, 'rejected', ['an', 'array']],
    [1_700_000_000_008, 'deferred', { reply: 'line "quoted" \u2028 and \\' }],
  ];
  for (const [t, e, f] of events) ring.add(t, e, f);
  assert.deepEqual(ring.tail(100), events.map(([t, e, f]) => expected(t, e, f)));
  assert.deepEqual(ring.tail(2), events.slice(-2).map(([t, e, f]) => expected(t, e, f)));
  assert.deepEqual(ring.tail(0), []);
});

void test('the tail ring keeps exactly its last events through wrapping and growing, texts of any length', () => {
  const size = 50;
  const ring = new TailRing(size);
  const all: string[] = [];
  // lengths from a few octets to 300 KiB: the ring (256 KiB at first) wraps many times and grows twice
  for (let i = 0; i < 2_000; i++) {
    const fields = { n: i, pad: 'x'.repeat(i === 1_500 ? 300_000 : (i * 7919) % 9_000), é: i % 3 === 0 ? 'ünïcode' : 'ascii' };
    ring.add(1_700_000_000_000 + i, 'queued', fields);
    all.push(expected(1_700_000_000_000 + i, 'queued', fields));
    if (i % 97 === 0 || i === 1_500 || i === 1_501) assert.deepEqual(ring.tail(size), all.slice(-size), `after event ${i}`);
  }
  assert.deepEqual(ring.tail(size + 10), all.slice(-size));
  assert.equal(ring.tail(3).length, 3);
});
