/**
 * Issue 14, CATENATE (RFC 4469) of a section of a big message (1.2 MiB, over the 1 MiB streaming
 * threshold: its tree from one streamed pass, its octets a range of its file read while the
 * copy is written, catenate CatenatedStream) whose source fails mid-copy, on Maildir and on
 * PostgreSQL (in a database of its own; skipped without a server). The copy's read is made to
 * fail after the URL was checked (test/helpers/catenate-site: the third open of the message,
 * after its tree's and the check's): cut short (the file truncated in the middle of the section
 * once the copy's first chunk was read: NO [UNAVAILABLE]), a read error in the middle of the
 * section (EIO: NO [UNAVAILABLE]), removed before the copy's read (ENOENT: NO [BADURL]); for
 * ;SECTION=HEADER, taken from the tree, the tree's read failing (EIO) or its file gone. Each
 * time, for one APPEND and for the CATENATE inside a MULTIAPPEND (RFC 3502, all or none:
 * beside small literals, and beside a streamed 1.1 MiB literal before or after it): STATUS
 * MESSAGES and UIDNEXT of the target are unchanged, nothing is left in the store (Maildir: no
 * file in tmp/, new/, cur/ and no batch journal; PostgreSQL: no message, body or chunk row), and
 * the session answers NOOP; after a read error the same command, left alone, stores every
 * message with the UIDs from the old UIDNEXT, the CATENATE one the text part and the section
 * octet for octet. A file removed while the copy reads it is still read whole (POSIX: the open
 * file stays): the copy is stored and exact.
 * Standards: RFC 4469 §5-6, RFC 3502 §6.3.11, RFC 5530 (UNAVAILABLE), RFC 5092 (;SECTION=).
 * Security: loopback only; test passwords.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pgUnavailable } from '../helpers/pg.js';
import { run, withCatenateSite, type CatenateSite, type Sabotage, type StoreKind } from '../helpers/catenate-site.js';

const KB = 1024;
const boundary = 'fronteira-42';
/** part 1: text lines; part 2: base64 lines; each about 600 KiB */
const part1 = Buffer.from(Array.from({ length: 9000 }, (_, i) => `linha ${i} da planilha ${'x'.repeat(i % 50)}\r\n`).join(''));
const part2 = Buffer.from(Array.from({ length: 8400 }, (_, i) => `${Buffer.from(`bloco ${i} `.repeat(6)).toString('base64').slice(0, 72)}\r\n`).join(''));
const header = `From: Ana <ana@example.net>\r\nTo: suzana@dc.uece.br\r\nSubject: planilha grande\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n`;
const text = Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`),
  part1,
  Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n`),
  part2,
  Buffer.from(`\r\n--${boundary}--\r\n`),
]);
const source = Buffer.concat([Buffer.from(header), text]);
const prefix = 'X-Copia: sim\r\n';
/** a literal message beside the CATENATE one, small or over the 1 MiB threshold (streamed) */
const small = Buffer.from('Subject: pequena\r\n\r\nola\r\n');
const big = Buffer.from(`Subject: grande\r\n\r\n${'dados de um anexo grande\r\n'.repeat(46_000)}`);

/** ;SECTION= → the octets it names, where they start and end in the source */
const sections = {
  '2': { octets: part2, start: source.indexOf(part2) },
  TEXT: { octets: text, start: header.length },
  HEADER: { octets: Buffer.from(header), start: 0 },
} as const;
type Section = keyof typeof sections;

const pgSkip = await pgUnavailable();

/** The CATENATE message of the command: TEXT prefix then the URL of the section. */
const catenatePart = (s: CatenateSite, section: Section): string => `CATENATE (TEXT {${prefix.length}+}\r\n${prefix} URL "/INBOX/;UID=${s.uid}/;SECTION=${section}")`;
const lit = (m: Buffer): Buffer[] => [Buffer.from(` {${m.length}+}\r\n`), m];

/** APPEND Copia of `shape`'s messages (literals `small`/`big` and the CATENATE one): the command without its tag. */
function command(s: CatenateSite, section: Section, shape: readonly ('cat' | 'small' | 'big')[]): Buffer {
  return Buffer.concat([Buffer.from('APPEND Copia'), ...shape.flatMap((m) => (m === 'cat' ? [Buffer.from(` ${catenatePart(s, section)}`)] : lit(m === 'big' ? big : small)))]);
}

async function statusOf(s: CatenateSite): Promise<{ messages: number; uidNext: number }> {
  const line = (await run(s.c, 'STATUS Copia (MESSAGES UIDNEXT)')).join('\n');
  const m = /MESSAGES (\d+) UIDNEXT (\d+)/.exec(line) ?? assert.fail(line);
  return { messages: Number(m[1]), uidNext: Number(m[2]) };
}

const answers: Record<'cut' | 'eio' | 'unlink', RegExp> = {
  cut: /^t\d+ NO \[UNAVAILABLE\] A message of the URL was cut short meanwhile/,
  eio: /^t\d+ NO \[UNAVAILABLE\] Message cannot be read now \(EIO\)/,
  unlink: /^t\d+ NO \[BADURL \/INBOX\/;UID=\d+\/;SECTION=(?:2|TEXT|HEADER)\]/,
};

/**
 * The command with the copy's read of the source sabotaged by `how` in the middle of the
 * section: the refusal, nothing stored, the session alive; then (a read error only) the same
 * command stores every message, exact.
 */
async function failsMidCopy(s: CatenateSite, how: 'cut' | 'eio' | 'unlink', section: Section, shape: readonly ('cat' | 'small' | 'big')[]): Promise<void> {
  const what = `${s.kind} ${how} ;SECTION=${section} in [${shape.join(' ')}]`;
  const sec = sections[section];
  const before = await statusOf(s);
  // the 3rd open: the section's tree, the URL's check, then the copy's read; HEADER is taken
  // from the tree, whose read (the 1st open) is the one that fails
  s.arm(how, { nth: section === 'HEADER' ? 1 : 3, at: sec.start + Math.floor(sec.octets.length / 2) });
  const answer = (await run(s.c, command(s, section, shape))).at(-1)!;
  assert.equal(s.fired(), 1, `${what}: the copy's read was sabotaged`);
  assert.match(answer, answers[how], what);
  assert.deepEqual(await statusOf(s), before, `${what}: STATUS MESSAGES and UIDNEXT unchanged`);
  assert.deepEqual(await s.leftovers('Copia'), [], `${what}: nothing left in the store`);
  assert.match((await run(s.c, 'NOOP')).at(-1)!, /^t\d+ OK/, `${what}: the session goes on`);
  if (how !== 'eio') return;
  const again = (await run(s.c, command(s, section, shape))).at(-1)!;
  const uids = /^t\d+ OK \[APPENDUID \d+ (\d+)(?::(\d+))?\]/.exec(again) ?? assert.fail(`${what}, left alone: ${again}`);
  assert.equal(Number(uids[1]), before.uidNext, `${what}, left alone: the UIDs from the old UIDNEXT`);
  assert.equal(Number(uids[2] ?? uids[1]) - Number(uids[1]) + 1, shape.length, `${what}, left alone: every message stored`);
  await copyIs(s, before.uidNext + shape.indexOf('cat'), Buffer.concat([Buffer.from(prefix), sec.octets]), what);
}

/** The message of `uid` in Copia is `expected`, octet for octet. */
async function copyIs(s: CatenateSite, uid: number, expected: Buffer, what: string): Promise<void> {
  assert.match((await run(s.c, 'EXAMINE Copia')).at(-1)!, /^t\d+ OK/);
  const tag = 'f';
  s.c.write(`${tag} UID FETCH ${uid} (BODY.PEEK[])\r\n`);
  // the literal's octets are read as lines: joined back with their line ends
  const lines = await s.c.readTagged(tag, 60_000);
  assert.match(lines.at(-1)!, /^f OK/);
  const all = Buffer.from(lines.slice(0, -1).join('\r\n'), 'latin1');
  const m = /\{(\d+)\}\r\n/.exec(all.toString('latin1', 0, 200)) ?? assert.fail(all.toString('latin1', 0, 200));
  const at = m.index + m[0].length;
  const got = all.subarray(at, at + Number(m[1]));
  assert.equal(got.length, expected.length, `${what}: the copy's size`);
  assert.ok(got.equals(expected), `${what}: the copy is the text part and the section`);
}

for (const kind of ['maildir', 'pg'] as const satisfies readonly StoreKind[]) {
  void describe(`CATENATE of a section of a 1.2 MiB message failing mid-copy (${kind})`, { skip: kind === 'pg' ? pgSkip : false }, () => {
    for (const section of ['2', 'TEXT'] as const) {
      for (const how of ['cut', 'eio', 'unlink'] as const) {
        void test(`one APPEND, ;SECTION=${section}, ${how}: a NO, nothing stored, the session goes on`, () =>
          withCatenateSite(kind, source, () => ({}), (s) => failsMidCopy(s, how, section, ['cat'])));
      }
    }
    for (const how of ['eio', 'unlink'] as const) {
      void test(`one APPEND, ;SECTION=HEADER, ${how} while its tree is read: a NO, nothing stored, the session goes on`, () =>
        withCatenateSite(kind, source, () => ({}), (s) => failsMidCopy(s, how, 'HEADER', ['cat'])));
    }
    for (const shape of [
      ['small', 'cat', 'small'],
      ['big', 'cat'],
      ['cat', 'big'],
    ] as const) {
      for (const how of ['cut', 'eio'] as const) {
        void test(`MULTIAPPEND [${shape.join(' ')}], ${how}: none of the messages stored`, () =>
          withCatenateSite(kind, source, () => ({}), (s) => failsMidCopy(s, how, '2', shape)));
      }
    }
    if (kind === 'maildir') {
      void test('the file removed while the copy reads it: read whole from the open file, stored exact', () =>
        withCatenateSite(kind, source, () => ({}), async (s) => {
          s.arm('unlink-mid' satisfies Sabotage, { nth: 3 });
          const answer = (await run(s.c, command(s, 'TEXT', ['cat']))).at(-1)!;
          assert.equal(s.fired(), 1);
          const uid = /^t\d+ OK \[APPENDUID \d+ (\d+)\]/.exec(answer)?.[1] ?? assert.fail(answer);
          await copyIs(s, Number(uid), Buffer.concat([Buffer.from(prefix), text]), 'removed mid-copy');
        }));
    }
  });
}

void test('the source message is over the streaming threshold (1 MiB) and its sections are where the tests cut them', () => {
  assert.ok(source.length >= 1024 * KB && source.length < 1400 * KB, `${source.length}`);
  assert.ok(big.length >= 1024 * KB, `${big.length}`);
  assert.ok(sections['2'].start > sections.TEXT.start + part1.length);
});
