import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope, MessageId } from '../core/index.js';
import { NoticeReader, encodeNotice, maxFramePart, type Queued } from './acceptor-notice.js';

/** A notice of two messages; the second body has every octet value, so no text encoding may touch it. */
function notice(): Queued {
  const env = (id: string): Envelope => ({ id: `${id}-1`, messageId: id, recipient: { local: 'b', domain: 'example.net' } }) as unknown as Envelope;
  const every = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) every[i] = i;
  return {
    envelopes: [env('m1'), env('m2')],
    places: { m1: { seg: 's1', offset: 0, bodyLength: 12, trailerLength: 40 }, m2: { seg: 's1', offset: 60, bodyLength: 256, trailerLength: 40 } },
    events: [['received', { messageId: 'm1', receivedField: 'from x (é) by y' }], ['connection', { session: 'a.1' }]],
    bodies: new Map<MessageId, Buffer>([['m1', Buffer.from('Subject: a\r\n')], ['m2', every]]),
  };
}

void test('a notice comes out as it went in, whatever the chunks the pipe gives', () => {
  const q = notice();
  const wire = Buffer.concat([...encodeNotice(q), ...encodeNotice({ ...q, envelopes: [], places: {}, bodies: new Map() })]);
  for (const size of [1, 7, 8, 9, 100, wire.length]) {
    const reader = new NoticeReader();
    const got: Queued[] = [];
    for (let at = 0; at < wire.length; at += size) got.push(...reader.push(wire.subarray(at, at + size)));
    assert.equal(got.length, 2, `chunks of ${size}`);
    assert.deepEqual(got[0].envelopes, q.envelopes);
    assert.deepEqual(got[0].places, q.places);
    assert.deepEqual(got[0].events, q.events);
    assert.deepEqual([...got[0].bodies.keys()], ['m1', 'm2']);
    assert.ok(got[0].bodies.get('m2')!.equals(q.bodies.get('m2')!), 'every octet as it was');
    assert.equal(got[1].bodies.size, 0);
  }
});

void test('a frame that does not decode is an error naming what is wrong, not a crash', () => {
  const over = Buffer.alloc(8);
  over.writeUInt32BE(maxFramePart + 1, 0);
  assert.throws(() => new NoticeReader().push(over), /over the limit/);
  const frame = (header: string, bodies = Buffer.alloc(0)): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(Buffer.byteLength(header), 0);
    head.writeUInt32BE(bodies.length, 4);
    return Buffer.concat([head, Buffer.from(header), bodies]);
  };
  assert.throws(() => new NoticeReader().push(frame('{"envelopes":[]}')), /not \{ envelopes, places, events, bodies \}/);
  assert.throws(() => new NoticeReader().push(frame('{"envelopes":[],"places":{},"events":[],"bodies":[["m1",9]]}', Buffer.alloc(4))), /the header says 9/);
  assert.throws(() => new NoticeReader().push(frame('{"envelopes":[],"places":{},"events":[],"bodies":[]}', Buffer.alloc(4))), /the bodies are 4 octets, the header says 0/);
  assert.throws(() => new NoticeReader().push(frame('{"envelopes":')), SyntaxError);
});
