/**
 * t-33: Python's imaplib (a client nobody here wrote) against correio's IMAP4rev2-era
 * extensions: SORT and THREAD (its sort() and thread() methods, RFC 5256) and UTF8=ACCEPT
 * (its enable('UTF8=ACCEPT'), after which it sends UTF-8: RFC 6855) with UTF-8 mailbox names
 * that an IMAP4rev1 session sees in modified UTF-7; IMAP4rev2 enabled by name; ESORT,
 * PARTIAL, CATENATE and OLDNAME through its generic commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { MaildirStore } from '../../src/mailbox/index.js';
import { withImapServer } from '../helpers/imap-server.js';
import { python3 } from '../helpers/python.js';

const user = 'suzana@dc.uece.br';
const hasPython = (await python3('import imaplib', []).catch(() => undefined))?.code === 0;
const skip = hasPython ? false : 'python3 with imaplib is missing';

function withServer(fn: (port: number, store: MaildirStore, mailRoot: string) => Promise<void>): Promise<void> {
  return withImapServer((s) => fn(s.port, s.store, s.mailRoot), { prefix: 'correio-t33-' });
}

async function run(script: string, port: number): Promise<string[]> {
  const r = await python3(script, [String(port)]);
  assert.equal(r.code, 0, r.err);
  return r.out.trimEnd().split('\n');
}

void test('imaplib sort() and thread(): RFC 5256 orders and threads', { skip }, () =>
  withServer(async (port, store) => {
    const messages = [
      'Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: zeca@x.example\r\nSubject: plans\r\nMessage-ID: <1@x>\r\n\r\none\r\n',
      'Date: Mon, 1 Jan 2024 12:00:00 +0000\r\nFrom: ana@x.example\r\nSubject: Re: plans\r\nMessage-ID: <2@x>\r\nReferences: <1@x>\r\n\r\ntwo\r\n',
      'Date: Sun, 31 Dec 2023 10:00:00 +0000\r\nFrom: bia@x.example\r\nSubject: [team] lunch\r\nMessage-ID: <3@x>\r\n\r\nthree\r\n',
      'Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nFrom: ana@x.example\r\nSubject: Re: plans\r\nMessage-ID: <4@x>\r\nIn-Reply-To: <2@x>\r\n\r\nfour\r\n',
    ];
    for (const [i, m] of messages.entries()) await store.deliver(user, Readable.from([Buffer.from(m)]), { uniqueKey: `t33-${i}` });
    const out = await run(
      `
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('${user}', 'secret')
M.select('INBOX')
print(M.sort('(DATE)', 'UTF-8', 'ALL'))
print(M.sort('(FROM REVERSE DATE)', 'UTF-8', 'ALL'))
print(M.uid('SORT', '(SUBJECT)', 'UTF-8', 'ALL'))
print(M.thread('REFERENCES', 'UTF-8', 'ALL'))
print(M.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL'))
M.logout()
`,
      port,
    );
    assert.deepEqual(out, [
      "('OK', [b'3 1 2 4'])",
      "('OK', [b'4 2 3 1'])",
      "('OK', [b'3 1 2 4'])",
      "('OK', [b'(3)(1 2 4)'])",
      "('OK', [b'(3)(1 (2)(4))'])",
    ]);
  }));

void test('imaplib enable("UTF8=ACCEPT"): UTF-8 mailbox names both ways, modified UTF-7 on disk and for IMAP4rev1 sessions', { skip }, () =>
  withServer(async (port, _store, mailRoot) => {
    const out = await run(
      `
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('${user}', 'secret')
print('caps', 'IMAP4REV2' in M.capabilities, 'UTF8=ACCEPT' in M.capabilities)
print(M.enable('UTF8=ACCEPT'))
print(M.create('"Relatórios"'))
print(M.list('""', '"Rel*"'))
print(M.append('"Relatórios"', None, None, 'Subject: ol\u00e1\\r\\n\\r\\ncorpo\\r\\n'.encode()))
print(M.select('"Relatórios"'))
print(M.status('"Relatórios"', '(MESSAGES)'))
M.logout()
N = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
N.login('${user}', 'secret')
print(N.list('""', 'Rel*'))
print(N._simple_command('ENABLE', 'IMAP4rev2'), N.untagged_responses.get('ENABLED'))
N.logout()
`,
      port,
    );
    assert.equal(out[0], 'caps True True');
    assert.equal(out[1], "('OK', [b'ENABLE completed'])");
    assert.equal(out[2], "('OK', [b'CREATE completed'])");
    assert.equal(out[3], `('OK', [b'(\\\\HasNoChildren) "." "Relat\\xc3\\xb3rios"'])`);
    assert.match(out[4], /^\('OK', \[b'\[APPENDUID \d+ 1\] APPEND completed'\]\)$/);
    assert.equal(out[5], "('OK', [b'1'])");
    assert.equal(out[6], `('OK', [b'"Relat\\xc3\\xb3rios" (MESSAGES 1)'])`);
    // the IMAP4rev1 session and the disk: modified UTF-7 (RFC 3501 §5.1.3), as Dovecot names it
    assert.equal(out[7], `('OK', [b'(\\\\HasNoChildren) "." Relat&APM-rios'])`);
    assert.equal(out[8], "('OK', [b'ENABLE completed']) [b'IMAP4rev2']");
    const { readdir } = await import('node:fs/promises');
    assert.ok((await readdir(join(mailRoot, 'dc.uece.br', 'suzana'))).includes('.Relat&APM-rios'));
  }));

void test('imaplib with ESORT, PARTIAL, CATENATE and OLDNAME: the untagged data it collects is what RFC 5267, 9394, 4469 and 9051 say', { skip }, () =>
  withServer(async (port, store) => {
    const messages = ['Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nSubject: b\r\n\r\none\r\n', 'Date: Sun, 31 Dec 2023 10:00:00 +0000\r\nSubject: a\r\n\r\ntwo\r\n', 'Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nSubject: c\r\n\r\nthree\r\n'];
    for (const [i, m] of messages.entries()) await store.deliver(user, Readable.from([Buffer.from(m)]), { uniqueKey: `t33e-${i}` });
    const out = await run(
      `
import imaplib, re, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('${user}', 'secret')
print(all(c in M.capabilities for c in ('ESORT', 'PARTIAL', 'CATENATE')))
M.select('INBOX')
notag = lambda d: [re.sub(rb'^\\(TAG "[^"]*"\\) ', b'', x) for x in d]
print(M._simple_command('SORT', 'RETURN (MIN MAX COUNT ALL)', '(DATE)', 'UTF-8', 'ALL')[0], notag(M.untagged_responses.pop('ESEARCH')))
print(M.uid('SEARCH', 'RETURN (PARTIAL -1:-2 COUNT)', 'ALL')[0], notag(M.untagged_responses.pop('ESEARCH', None)))
print(M.uid('FETCH', '1:*', '(UID) (PARTIAL 1:1)'))
typ, data = M._simple_command('APPEND', 'Drafts', 'CATENATE (URL "/INBOX/;UID=2/;SECTION=HEADER" URL "/INBOX/;UID=3/;SECTION=TEXT")')
print(typ)
M.select('Drafts')
print(M.fetch('1', '(BODY[])')[1][0][1])
print(M._simple_command('APPEND', 'Drafts', 'CATENATE (URL "/INBOX/;UID=99")'))
M.close()
M.enable('UTF8=ACCEPT')
print(M.create('"Cafe\u0301"'), M.untagged_responses.pop('LIST', None))
M.logout()
`,
      port,
    );
    assert.deepEqual(out, [
      'True',
      "OK [b'MIN 2 MAX 3 COUNT 3 ALL 2,1,3']",
      "OK [b'UID COUNT 3 PARTIAL (-1:-2 2:3)']",
      "('OK', [b'1 (UID 1)'])",
      'OK',
      "b'Date: Sun, 31 Dec 2023 10:00:00 +0000\\r\\nSubject: a\\r\\n\\r\\nthree\\r\\n'",
      "('NO', [b'[BADURL /INBOX/;UID=99] Cannot use this URL'])",
      `('OK', [b'CREATE completed']) [b'() "." "Caf\\xc3\\xa9" ("OLDNAME" ("Cafe\\xcc\\x81"))']`,
    ]);
  }));
