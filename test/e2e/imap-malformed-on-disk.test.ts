/**
 * Issue 14, bad input: malformed messages dropped into a Maildir by another program (no header
 * end, NUL and 8-bit octets, broken quoting and encoded words, unknown charsets and transfer
 * encodings, a multipart without its closing delimiter, 60 nested multiparts, an empty
 * message/rfc822 part, an empty file, a 200 KB line without a line end) still FETCH with every
 * item, SEARCH and SORT; each command gets its tagged OK (NO with a response code only for
 * BINARY of an unknown encoding, RFC 3516 §4.3), never BAD or BYE; and a second session on the
 * same mailbox goes on working throughout.
 * Standards: RFC 9051 §6.4.5 (FETCH), §6.4.4 (SEARCH), RFC 5256 (SORT), RFC 3516 §4.3
 *   (UNKNOWN-CTE).
 * Security: loopback only; test passwords.
 * Limitations: the answers' content is not compared here (imap-dovecot-diff does that for the
 *   corpus); this test asks only that the sessions survive and answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineClient } from '../helpers/net.js';
import { testImapUser, withImapServer } from '../helpers/imap-server.js';

const nested = (depth: number): string =>
  depth === 0 ? 'Content-Type: text/plain\r\n\r\nfundo\r\n' : `Content-Type: multipart/mixed; boundary=b${depth}\r\n\r\n--b${depth}\r\n${nested(depth - 1)}\r\n--b${depth}--\r\n`;

const malformed: Buffer[] = [
  Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0d, 0x00, 0x0a, 0x80, 0x3a, 0x3a, 0x20, 0x7b, 0x33, 0x7d]),
  Buffer.from('Subject: caf\u00e9 sem codifica\u00e7\u00e3o\r\nFrom: "unterminated <a@b\r\nTo: <<<@>>>, ,;:\r\nDate: ontem\r\nCc: =?utf-8?B?!!!?= <x@y>\r\nIn-Reply-To: <a\r\n\r\ncorpo\r\n', 'latin1'),
  Buffer.from(
    'Subject: =?x-nonexistent?Q?abc?= =?utf-8?Q?=ZZ?=\r\nContent-Type: multipart/mixed; boundary="sem-fim"\r\n\r\n--sem-fim\r\nContent-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!não é base64@@@\r\n--sem-fim\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-unknown\r\n\r\n\u0000\u0001\r\n--sem-fim\r\nContent-Type: message/rfc822\r\n\r\n',
    'latin1',
  ),
  Buffer.from(`Subject: fundo\r\n${nested(60)}`),
  Buffer.alloc(0),
  Buffer.from(`Subject: ${'x'.repeat(200_000)}`),
  Buffer.from('Content-Type: text/plain; charset="utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9=\r\n=ZZ=\r\n=', 'latin1'),
];

const commands = [
  'FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY)',
  'FETCH 1:* (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.1] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)] BODY.PEEK[]<5.10>)',
  'FETCH 1:* (BINARY.SIZE[1] BINARY.PEEK[1])',
  'FETCH 1:* (BINARY.PEEK[2] BINARY.SIZE[2])',
  'SEARCH CHARSET UTF-8 OR TEXT {5+}\r\ncafé OR FROM unterminated OR SUBJECT abc HEADER To "@"',
  'SEARCH BODY base64 SENTBEFORE 1-Jan-2030 LARGER 0',
  'SORT (SUBJECT FROM DATE CC) UTF-8 ALL',
  'THREAD REFERENCES UTF-8 ALL',
  'STORE 1:* +FLAGS (\\Seen)',
];

void test('malformed messages on disk FETCH, SEARCH and SORT without breaking the session or its neighbour', () =>
  withImapServer(
    async ({ port, store }) => {
      const inbox = store.mailboxPath(testImapUser, '');
      // dropped into new/ by another program (the store made the Maildir at its first delivery)
      await store.deliver(testImapUser, Buffer.from('Subject: normal\r\n\r\nbem formada\r\n'), { uniqueKey: 'ok' });
      for (const [i, m] of malformed.entries()) await writeFile(join(inbox, 'new', `1796000000.M${i}P1.other`), m);

      const open = async (): Promise<LineClient> => {
        const c = await LineClient.connect(port, '127.0.0.1');
        await c.readLine();
        c.write(`a LOGIN ${testImapUser} secret\r\nb SELECT INBOX\r\n`);
        await c.readTagged('a');
        const sel = await c.readTagged('b');
        assert.ok(sel.includes(`* ${malformed.length + 1} EXISTS`), sel.join('\n'));
        return c;
      };
      const a = await open();
      const b = await open();
      try {
        for (const [i, cmd] of commands.entries()) {
          a.write(`c${i} ${cmd}\r\n`);
          const lines = await a.readTagged(`c${i}`, 60_000);
          const last = lines.at(-1) ?? '(closed)';
          assert.ok(!lines.some((l) => l.startsWith('* BYE')), `${cmd}: ${last}`);
          // BINARY of a part in an unknown transfer encoding is NO [UNKNOWN-CTE] (RFC 3516 §4.3)
          assert.match(last, cmd.startsWith('FETCH 1:* (BINARY') ? new RegExp(`^c${i} (OK|NO \\[UNKNOWN-CTE\\]) `) : new RegExp(`^c${i} OK `), cmd);
          // the neighbour on the same mailbox is unaffected
          b.write(`n${i} NOOP\r\nm${i} UID FETCH 1 (FLAGS)\r\n`);
          assert.match((await b.readTagged(`n${i}`)).at(-1) ?? '', new RegExp(`^n${i} OK`));
          assert.match((await b.readTagged(`m${i}`)).at(-1) ?? '', new RegExp(`^m${i} OK`));
        }
      } finally {
        a.close();
        b.close();
      }
    },
    { prefix: 'correio-imap-malformed-' },
  ));
