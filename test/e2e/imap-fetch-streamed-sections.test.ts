/**
 * FETCH of every item and section form answers the same octets for a message read whole (the
 * default: corpus messages are under the 256 KiB streaming threshold) as for the same message
 * streamed (a server with fetchStreamFrom 0: its tree made by one streamed pass, its sections
 * ranges of its file, BINARY decoded on the way): every message of `../shared/corpora/messages`,
 * over real sockets, answers compared octet for octet (the folder's UIDs are the same in both)
 * but for one listed difference: a streamed BINARY is always a literal8 (`~{n}`: its octets are
 * not looked at before they are sent), one read whole only when it holds a NUL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { corpusMessageFiles } from '../helpers/corpus-messages.js';
import { testImapUser, withImapServer } from '../helpers/imap-server.js';
import { RawImap } from '../helpers/raw-imap.js';

const items = [
  'BODYSTRUCTURE',
  'BODY',
  'ENVELOPE',
  'RFC822.SIZE',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'RFC822',
  'BODY.PEEK[]<7.300>',
  'BODY.PEEK[HEADER]',
  'BODY.PEEK[HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE)]',
  'BODY.PEEK[HEADER.FIELDS.NOT (FROM RECEIVED)]',
  'BODY.PEEK[TEXT]',
  'BODY.PEEK[TEXT]<0.100>',
  'BODY.PEEK[1]',
  'BODY.PEEK[1]<5.50>',
  'BODY.PEEK[1.MIME]',
  'BODY.PEEK[1.HEADER]',
  'BODY.PEEK[1.TEXT]',
  'BODY.PEEK[2]',
  'BODY.PEEK[2.MIME]',
  'BODY.PEEK[2.1]',
  'BODY.PEEK[2.2.MIME]',
  'BODY.PEEK[3]',
  'BODY.PEEK[9]',
  'BINARY.PEEK[]',
  'BINARY.PEEK[1]',
  'BINARY.PEEK[1]<3.20>',
  'BINARY.PEEK[2]',
  'BINARY.PEEK[2.1]',
  'BINARY.PEEK[3]',
  'BINARY.SIZE[1]',
  'BINARY.SIZE[2]',
  'BINARY.SIZE[2.1]',
  '(BODYSTRUCTURE BODY.PEEK[1] BINARY.PEEK[2] BODY.PEEK[1.MIME] BODY.PEEK[HEADER] BINARY.SIZE[1])',
];

async function answers(messages: readonly Buffer[], fetchStreamFrom: number | undefined): Promise<Buffer[]> {
  return withImapServer(
    async (s) => {
      const c = await RawImap.connect(s.port);
      try {
        assert.match((await c.run(`LOGIN ${testImapUser} secret`)).toString(), /OK/);
        for (const m of messages) await s.folders.append(testImapUser, 'INBOX', m, { flags: '' });
        assert.match((await c.run('EXAMINE INBOX')).toString(), /OK \[READ-ONLY\]/);
        const out: Buffer[] = [];
        for (let uid = 1; uid <= messages.length; uid++) for (const i of items) out.push(await c.run(`UID FETCH ${uid} ${i.startsWith('(') ? i : `(${i})`}`));
        return out;
      } finally {
        c.close();
      }
    },
    { prefix: 'correio-imap-sections-', ...(fetchStreamFrom !== undefined && { fetchStreamFrom }) },
  );
}

void test('every FETCH item and section of every corpus message: the same octets streamed from the file as read whole', async () => {
  const files = await corpusMessageFiles();
  // CRLF, as APPEND gives them to the store
  const messages = await Promise.all(files.map(async (f) => Buffer.from((await readFile(f)).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')));
  const whole = await answers(messages, undefined);
  const streamed = await answers(messages, 0);
  assert.equal(streamed.length, whole.length);
  let binary = 0;
  // the literal8 difference (module header), and only it
  const plain = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace(/(BINARY\[[\d.]*\](?:<\d+>)? )~\{/g, '$1{'), 'latin1');
  for (const [k, a] of whole.map(plain).entries()) {
    const where = `${files[Math.floor(k / items.length)]} ${items[k % items.length]}`;
    assert.match(a.toString('latin1'), /(^|\r\n)r\d+ (OK|NO) /, `${where}: answered`);
    if (/BINARY\[\d/.test(a.toString('latin1'))) binary++;
    assert.ok(plain(streamed[k]).equals(a), `${where}: streamed\n${streamed[k].toString('latin1').slice(0, 600)}\nread whole\n${a.toString('latin1').slice(0, 600)}`);
  }
  assert.ok(binary > 20, `BINARY of parts compared (${binary})`);
});
