import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { analyze8bit, To7bitStream } from './to-7bit.js';
import { MailError } from '../../core/index.js';
import { corporaDir, corporaSkip } from '../../../test/helpers/paths.js';

function chunks(buf: Buffer, size = 7): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function convert(msg: Buffer): Promise<{ out: Buffer; convertible: boolean; has8bit: boolean }> {
  const plan = await analyze8bit(chunks(msg, 1000));
  if (!plan.convertible) return { out: Buffer.alloc(0), convertible: false, has8bit: plan.has8bit };
  const out: Buffer[] = [];
  for await (const c of chunks(msg, 333).pipe(new To7bitStream(plan))) out.push(c as Buffer);
  return { out: Buffer.concat(out), convertible: true, has8bit: plan.has8bit };
}

function all7bit(b: Buffer): boolean {
  for (const x of b) if (x >= 0x80 || x === 0) return false;
  return true;
}

function maxLine(b: Buffer): number {
  return Math.max(...b.toString('latin1').split('\r\n').map((l) => l.length));
}

async function sameMeaning(a: Buffer, b: Buffer, compareAttachments = true): Promise<void> {
  const [pa, pb] = await Promise.all([PostalMime.parse(a), PostalMime.parse(b)]);
  assert.equal(pb.subject, pa.subject);
  // white space compared loosely: a parser may keep the CRLF before a delimiter of an 8bit
  // part (RFC 2046 §5.1.1 says it belongs to the delimiter) but cannot for a base64 one
  const ws = (s: string | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();
  assert.equal(ws(pb.text), ws(pa.text));
  assert.equal(ws(pb.html), ws(pa.html));
  assert.equal(pb.attachments.length, pa.attachments.length);
  if (!compareAttachments) return;
  pa.attachments.forEach((att, i) => {
    const x = Buffer.from(att.content as ArrayBuffer);
    const y = Buffer.from(pb.attachments[i].content as ArrayBuffer);
    assert.ok(x.equals(y), `attachment ${i} (${att.mimeType}) differs`);
  });
}

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

void test('plain 8-bit text becomes quoted-printable; headers untouched; MIME-Version added', async () => {
  const msg = crlf('From: a@b.c\nSubject: test\n\nOlá, ação!\n.leading dot\nline with trailing space \n');
  const { out } = await convert(msg);
  assert.ok(all7bit(out));
  const s = out.toString('latin1');
  assert.match(s, /^From: a@b.c\r\nSubject: test\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/);
  assert.match(s, /Ol=C3=A1, a=C3=A7=C3=A3o!\r\n\.leading dot\r\nline with trailing space=20\r\n$/);
  await sameMeaning(msg, out);
});

void test('a 7-bit message passes byte for byte', async () => {
  const msg = crlf('From: a@b.c\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nhello\n--x--\n');
  const { out, has8bit } = await convert(msg);
  assert.equal(has8bit, false);
  assert.ok(out.equals(msg));
});

const nested = crlf(`From: a@b.c
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Çà et là, très long ${'é'.repeat(300)}
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<p>Ça va?</p>
--inner--
--outer
Content-Type: text/plain; charset=us-ascii

untouched 7-bit part
--outer
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Subject: inner message
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

`);
const latin1Part = Buffer.from('Ol\xe1 em latin-1\r\n', 'latin1');
const binary = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 37) % 256));
const nestedMsg = Buffer.concat([
  nested,
  latin1Part,
  crlf('--outer\nContent-Type: application/octet-stream; name=x.bin\nContent-Disposition: attachment; filename=x.bin\nContent-Transfer-Encoding: binary\n\n'),
  binary,
  crlf('\n--outer--\nepilogue\n'),
]);

void test('nested multiparts, message/rfc822 and a binary attachment', async () => {
  const { out } = await convert(nestedMsg);
  assert.ok(all7bit(out), 'all 7-bit');
  assert.ok(maxLine(out) <= 998, 'lines within RFC 5322 limits');
  const s = out.toString('latin1');
  assert.match(s, /untouched 7-bit part\r\n--outer\r\n/);
  assert.match(s, /Content-Type: message\/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n/);
  // mostly-ASCII text → QP (html, latin-1 part); the text part is mostly 8-bit → base64
  assert.equal((s.match(/Content-Transfer-Encoding: quoted-printable/g) ?? []).length, 2);
  assert.equal((s.match(/Content-Transfer-Encoding: base64/g) ?? []).length, 2);
  // the parser reads a raw binary part line by line (it cannot be exact); checked below instead
  await sameMeaning(nestedMsg, out, false);
  // the binary attachment decodes back exactly
  const parsed = await PostalMime.parse(out);
  const bin = parsed.attachments.find((a) => a.filename === 'x.bin');
  assert.ok(bin && Buffer.from(bin.content as ArrayBuffer).equals(binary));
  const inner = parsed.attachments.find((a) => a.mimeType === 'message/rfc822');
  if (inner) {
    const innerParsed = await PostalMime.parse(Buffer.from(inner.content as ArrayBuffer));
    assert.equal(innerParsed.text?.trim(), 'Olá em latin-1');
  }
});

void test('a long 8-bit line is soft-broken at 76', async () => {
  const msg = crlf(`Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${'ã'.repeat(20000)}\n`);
  const { out } = await convert(msg);
  assert.ok(all7bit(out));
  const body = out.toString('latin1').split('\r\n\r\n')[1];
  assert.ok(maxLine(Buffer.from(body)) <= 76);
  await sameMeaning(msg, out);
});

void test('8-bit header fields cannot be converted: 5.6.3', async () => {
  const msg = crlf('Subject: Olá\n\nbody é\n');
  const plan = await analyze8bit(chunks(msg));
  assert.equal(plan.convertible, false);
  assert.match(plan.reason ?? '', /header/);
  const out = chunks(msg).pipe(new To7bitStream());
  await assert.rejects(
    (async () => {
      for await (const _ of out) void _;
    })(),
    (e: MailError) => e.reply.code === 554 && e.reply.status === '5.6.3',
  );
});

void test('8-bit octets inside a base64 part cannot be converted', async () => {
  const msg = crlf('Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nné\n');
  assert.equal((await analyze8bit(chunks(msg))).convertible, false);
});

void test('without a plan: 8bit-declared parts converted, mislabeled 7bit parts refused', async () => {
  const msg = crlf('Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nçé\n');
  const out: Buffer[] = [];
  for await (const c of chunks(msg).pipe(new To7bitStream())) out.push(c as Buffer);
  assert.ok(all7bit(Buffer.concat(out)));
  await sameMeaning(msg, Buffer.concat(out));
});

function walk(dir: string, out: string[]): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(eml|txt|msg)$/i.test(n)) out.push(p);
  }
  return out;
}

void test('corpus messages: 7-bit output that decodes to the same content', { skip: corporaSkip('messages') }, async () => {
  const files = walk(join(corporaDir, 'messages'), []).sort();
  let converted = 0;
  let untouched = 0;
  for (const f of files) {
    const msg = Buffer.from(readFileSync(f).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    const r = await convert(msg);
    if (!r.convertible) continue;
    if (!r.has8bit) {
      assert.ok(r.out.equals(msg), `${f}: a 7-bit message must pass unchanged`);
      untouched++;
      continue;
    }
    assert.ok(all7bit(r.out), `${f}: output is 7-bit`);
    try {
      await sameMeaning(msg, r.out);
    } catch (err) {
      throw new Error(`${f}: ${(err as Error).message}`);
    }
    converted++;
  }
  assert.ok(converted > 0, 'some corpus messages needed conversion');
  assert.ok(untouched > 0);
});
