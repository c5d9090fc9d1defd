import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { BodyCutShort, StreamedBody } from './fetch-stream.js';

const message = Buffer.from(Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
/** the message in chunks of 7 octets, as a file stream gives it in pieces */
const open = (octets = message): Readable => Readable.from(Array.from({ length: Math.ceil(octets.length / 7) }, (_, i) => octets.subarray(i * 7, i * 7 + 7)));

async function written(body: StreamedBody, ranges: { origin: number; length: number }[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const r of ranges) {
    const parts: Buffer[] = [];
    assert.equal(await body.write(r, (b) => Promise.resolve(parts.push(b) > 0)), true);
    out.push(Buffer.concat(parts));
  }
  return out;
}

test('ranges of a streamed message give its octets: forward, overlapping and before one written (the file reopened)', async () => {
  let opened = 0;
  const body = new StreamedBody(open(), () => Promise.resolve((opened++, open())));
  const ranges = [
    { origin: 0, length: 10 },
    { origin: 10, length: 3 },
    { origin: 500, length: 250 },
    { origin: 740, length: 260 },
    { origin: 3, length: 40 },
    { origin: 999, length: 1 },
  ];
  const got = await written(body, ranges);
  body.close();
  assert.deepEqual(got.map((b) => b.toString()), ranges.map((r) => message.subarray(r.origin, r.origin + r.length).toString()));
  assert.equal(opened, 2, 'reopened for the ranges that start before the position reached');
});

test('a message shorter than the announced range ends the exchange (BodyCutShort), and a client gone stops the writing', async () => {
  const short = new StreamedBody(open(message.subarray(0, 100)), () => Promise.resolve(open()));
  await assert.rejects(short.write({ origin: 50, length: 60 }, () => Promise.resolve(true)), BodyCutShort);
  short.close();
  let calls = 0;
  const gone = new StreamedBody(open(), () => Promise.resolve(open()));
  assert.equal(await gone.write({ origin: 0, length: 1000 }, () => Promise.resolve(++calls < 3)), false);
  assert.equal(calls, 3, 'no write after the one the client did not take');
  gone.close();
});

test('a decoded range (BINARY of a base64 part) gives the decoded octets from its origin, and its size is counted first', async () => {
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
  const encoded = Buffer.from(data.toString('base64').replace(/.{76}/g, '$&\r\n'));
  const file = Buffer.concat([Buffer.from('Content-Transfer-Encoding: base64\r\n\r\n'), encoded, Buffer.from('\r\n--b--\r\n')]);
  const section = { start: file.indexOf('\r\n\r\n') + 4, end: file.indexOf('\r\n--b--'), cte: 'base64' };
  const body = new StreamedBody(open(file), () => Promise.resolve(open(file)));
  assert.equal(await body.decodedSize(section), 300);
  for (const [origin, length] of [[0, 300], [10, 50], [299, 1]]) {
    const parts: Buffer[] = [];
    assert.equal(await body.write({ origin, length, decode: section }, (b) => Promise.resolve(parts.push(b) > 0)), true);
    assert.deepEqual(Buffer.concat(parts), data.subarray(origin, origin + length));
  }
  await assert.rejects(body.write({ origin: 0, length: 301, decode: section }, () => Promise.resolve(true)), BodyCutShort);
  body.close();
});
