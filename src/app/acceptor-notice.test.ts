import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { channels, relayedEvent, relayedJson, type Envelope, type MessageId } from '../core/index.js';
import { republish } from './acceptor-events.js';
import { NoticeReader, encodeNotice, maxFramePart, type Queued } from './acceptor-notice.js';

/** A notice of two messages; the second body has every octet value, so no text encoding may touch it. */
function notice(): Queued {
  const env = (id: string): Envelope => ({ id: `${id}-1`, messageId: id, recipient: { local: 'b', domain: 'example.net' } }) as unknown as Envelope;
  const every = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) every[i] = i;
  return {
    envelopes: [env('m1'), env('m2')],
    places: new Map([['m1', { seg: 's1', offset: 0, bodyLength: 12, trailerLength: 40 }], ['m2', { seg: 's1', offset: 60, bodyLength: 256, trailerLength: 40 }]]),
    events: [['received', { messageId: 'm1', receivedField: 'from x (é) by y' }], ['connection', { session: 'a.1' }]],
    bodies: new Map<MessageId, Buffer>([['m1', Buffer.from('Subject: a\r\n')], ['m2', every]]),
  };
}

void test('a notice comes out as it went in, whatever the chunks the pipe gives', () => {
  const q = notice();
  const wire = Buffer.concat([...encodeNotice(q), ...encodeNotice({ ...q, envelopes: [], places: new Map(), bodies: new Map() })]);
  for (const size of [1, 7, 8, 9, 100, wire.length]) {
    const reader = new NoticeReader();
    const got: Queued[] = [];
    for (let at = 0; at < wire.length; at += size) got.push(...reader.push(wire.subarray(at, at + size)));
    assert.equal(got.length, 2, `chunks of ${size}`);
    assert.deepEqual(got[0].envelopes, q.envelopes);
    assert.deepEqual(got[0].places, q.places);
    // each event comes with its fields' JSON text, which the history writes as it is
    assert.deepEqual(got[0].events, q.events.map(([name, fields]) => [name, fields, JSON.stringify(fields)]));
    assert.deepEqual([...got[0].bodies.keys()], ['m1', 'm2']);
    assert.ok(got[0].bodies.get('m2')!.equals(q.bodies.get('m2')!), 'every octet as it was');
    assert.equal(got[1].bodies.size, 0);
  }
});

void test('a body given as the pieces its record was appended from goes out octet for octet as one (session 17: no copy in the acceptor)', () => {
  const q = notice();
  const m2 = q.bodies.get('m2')!;
  const pieces = [Buffer.from('Received: from x\r\n'), m2.subarray(0, 100), Buffer.alloc(0), m2.subarray(100)];
  const out = encodeNotice({ ...q, bodies: new Map<MessageId, Buffer | readonly Buffer[]>([['m1', q.bodies.get('m1')!], ['m2', pieces]]) });
  assert.equal(out.length, 1 + 1 + pieces.length, 'the header, then each piece as it is');
  assert.equal(out[2], pieces[0], 'not copied');
  const got = new NoticeReader().push(Buffer.concat(out));
  assert.equal(got.length, 1);
  assert.ok(got[0].bodies.get('m1')!.equals(q.bodies.get('m1')!));
  assert.ok(got[0].bodies.get('m2')!.equals(Buffer.concat(pieces)), 'the pieces one after the other');
});

void test('every envelope comes out as JSON would have carried it, the fields coded by hand or not', () => {
  const base = { id: 'm1-1', messageId: 'm1', sender: { local: 'a', domain: 'example.org' }, recipient: { local: 'b', domain: 'example.net' }, route: { transport: 'smtp', nextHop: '[127.0.0.1]:25' }, arrivedAt: 1796560512117, size: 5404, attempts: [], nextAttemptAt: 0, dsn: {} };
  const odd: Record<string, unknown>[] = [
    base,
    { ...base, sender: null, originalRecipient: { local: 'B', domain: 'example.net' }, body: '8BITMIME', smtpUtf8: true, state: 'held', held: true, resolvedVia: [] },
    // not coded by hand: they go as JSON
    { ...base, attempts: [{ at: 1, status: '4.4.1', error: 'timeout' }], dsn: { notify: ['NEVER'], envid: 'x' }, notice: 'failure', delayWarnedAt: 5, resolvedVia: ['alias:x'] },
    { ...base, recipient: { local: 'ü', domain: 'bücher.example', extra: 1 }, route: { transport: 'local', nextHop: 'b@x', more: true }, size: 1.5, state: 'someday', body: 'OTHER', unknown: { a: [1] } },
    { ...base, originalRecipient: undefined, nextAttemptAt: Number.NaN, id: undefined },
    // not ASCII: the envelope's text decoded as UTF-8 and cut, the ASCII ones around it copied string by string
    { ...base, sender: { local: 'zoë', domain: 'exämple.org' }, recipient: { local: 'ü', domain: 'bücher.example' }, route: { transport: 'smtp', nextHop: '😀.example' }, state: 'queued', smtpUtf8: true, body: '8BITMIME', originalRecipient: { local: 'Ü', domain: 'bücher.example' }, resolvedVia: [] },
    { ...base, state: 'deferred', smtpUtf8: false, originalRecipient: { local: 'b', domain: 'example.net' }, resolvedVia: [] },
  ];
  const q: Queued = { envelopes: odd as unknown as Envelope[], places: new Map(), events: [], bodies: new Map() };
  const [got] = new NoticeReader().push(Buffer.concat(encodeNotice(q)));
  assert.deepEqual(got.envelopes, JSON.parse(JSON.stringify(odd)));
});

void test('a frame that does not decode is an error naming what is wrong, not a crash', () => {
  const over = Buffer.alloc(8);
  over.writeUInt32BE(maxFramePart + 1, 0);
  assert.throws(() => new NoticeReader().push(over), /over the limit/);
  const frame = (header: Buffer, bodies = Buffer.alloc(0)): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(header.length, 0);
    head.writeUInt32BE(bodies.length, 4);
    return Buffer.concat([head, header, bodies]);
  };
  const good = Buffer.from(encodeNotice(notice())[0].subarray(8));
  const bodies = Buffer.concat([...notice().bodies.values()]);
  assert.equal(new NoticeReader().push(frame(good, bodies)).length, 1, 'the unchanged frame decodes');
  // every header cut short, and every one with an octet changed, is refused or decodes: never a crash
  const refused = (err: unknown): boolean => err instanceof SyntaxError || /^notice/.test((err as Error).message);
  for (let n = 0; n < good.length; n++) assert.throws(() => new NoticeReader().push(frame(good.subarray(0, n), bodies)), refused, `cut at ${n}`);
  for (let n = 0; n < good.length; n++) {
    const bad = Buffer.from(good);
    bad[n] ^= 0xff;
    try {
      new NoticeReader().push(frame(bad, bodies));
    } catch (err) {
      assert.ok(refused(err), `octet ${n}: ${(err as Error).message}`);
    }
  }
  const version = Buffer.from(good);
  version[0] = 9;
  assert.throws(() => new NoticeReader().push(frame(version, bodies)), /version 9, not 2/);
  assert.throws(() => new NoticeReader().push(frame(good, bodies.subarray(4))), /the bodies are \d+ octets, the header says \d+/);
  // octets after the events' JSON array: it does not parse
  assert.throws(() => new NoticeReader().push(frame(Buffer.concat([good, Buffer.alloc(3)]), bodies)), SyntaxError);
  // a count no header could hold is refused before any loop
  const many = Buffer.from(good);
  many.writeUInt32LE(0xffffffff, 1);
  assert.throws(() => new NoticeReader().push(frame(many, bodies)), /4294967295 envelopes, .* cannot fit/);
});

void test('a relayed event is published with its text as received, and without it afterwards', () => {
  const [got] = new NoticeReader().push(Buffer.concat(encodeNotice(notice())));
  const seen: unknown[] = [];
  const fn = (m: unknown): void => {
    seen.push((m as { [relayedJson]?: unknown })[relayedJson], relayedEvent in (m as object));
  };
  diagnostics.subscribe(channels.received, fn);
  try {
    republish(got.events);
  } finally {
    diagnostics.unsubscribe(channels.received, fn);
  }
  assert.deepEqual(seen, [JSON.stringify(notice().events[0][1]), true]);
  assert.equal((got.events[0][1] as { [relayedJson]?: unknown })[relayedJson], undefined, 'not kept once published');
});
