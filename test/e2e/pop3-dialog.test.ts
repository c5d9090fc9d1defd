/**
 * POP3 dialog transcripts over a real socket (RFC 1939 §10 style). "C:" lines are sent, "S:"
 * lines must match exactly, or as a regular expression when written "S~".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, USER, PASSWORD } from './pop3-harness.js';

const msg1 = 'From: jacques@dc.uece.br\r\nSubject: um\r\n\r\nPrimeira linha\r\n.ponto\r\n.\r\nfim\r\n';
const msg2 = 'From: jacques@dc.uece.br\r\nSubject: dois\r\n\r\nb\r\n';

async function play(script: string): Promise<void> {
  const h = await startHarness();
  try {
    await h.store.put(USER, msg1);
    await h.store.put(USER, msg2);
    const c = await h.connect();
    for (const raw of script.split('\n')) {
      const line = raw.replace(/^\s+/, '');
      if (line === '') continue;
      if (line.startsWith('C: ')) c.write(`${line.slice(3)}\r\n`);
      else if (line.startsWith('S: ') || line === 'S:') assert.equal(await c.readLine(), line.slice(3), `expecting ${line}`);
      else if (line.startsWith('S~ ')) {
        const got = await c.readLine();
        assert.match(got ?? '<closed>', new RegExp(line.slice(3)), `expecting ${line}`);
      } else if (line === 'S: <closed>' || line === '<closed>') assert.equal(await c.readLine(), undefined);
      else throw new Error(`bad script line ${line}`);
    }
  } finally {
    await h.cleanup();
  }
}

const s1 = msg1.length;
const s2 = msg2.length;

void test('dialog: a full session (RFC 1939 §10)', () =>
  play(`
    S: +OK pop.dc.uece.br POP3 server ready
    C: CAPA
    S: +OK Capability list follows
    S: USER
    S: TOP
    S: UIDL
    S: PIPELINING
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: SASL PLAIN
    S: IMPLEMENTATION correio
    S: .
    C: STAT
    S: -ERR command not valid in this state
    C: USER ${USER}
    S: +OK send PASS
    C: PASS ${PASSWORD}
    S: +OK maildrop locked and ready, 2 messages (${s1 + s2} octets)
    C: stat
    S: +OK 2 ${s1 + s2}
    C: LIST
    S: +OK 2 messages (${s1 + s2} octets)
    S: 1 ${s1}
    S: 2 ${s2}
    S: .
    C: LIST 2
    S: +OK 2 ${s2}
    C: LIST 3
    S: -ERR no such message
    C: UIDL
    S: +OK unique-id listing follows
    S~ ^1 [\\x21-\\x7e]{1,70}$
    S~ ^2 [\\x21-\\x7e]{1,70}$
    S: .
    C: RETR 1
    S: +OK ${s1} octets
    S: From: jacques@dc.uece.br
    S: Subject: um
    S:
    S: Primeira linha
    S: ..ponto
    S: ..
    S: fim
    S: .
    C: TOP 1 1
    S: +OK top of message follows
    S: From: jacques@dc.uece.br
    S: Subject: um
    S:
    S: Primeira linha
    S: .
    C: DELE 1
    S: +OK message 1 deleted
    C: RETR 1
    S: -ERR message 1 already deleted
    C: DELE 1
    S: -ERR message 1 already deleted
    C: STAT
    S: +OK 1 ${s2}
    C: LIST
    S: +OK 1 message (${s2} octets)
    S: 2 ${s2}
    S: .
    C: RSET
    S: +OK maildrop has 2 messages (${s1 + s2} octets)
    C: DELE 2
    S: +OK message 2 deleted
    C: NOOP
    S: +OK
    C: USER ${USER}
    S: -ERR command not valid in this state
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: PIPELINING
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: IMPLEMENTATION correio
    S: .
    C: QUIT
    S: +OK pop.dc.uece.br POP3 server signing off (1 message left)
    <closed>
  `));

void test('dialog: bad commands and arguments get precise -ERR', () =>
  play(`
    S: +OK pop.dc.uece.br POP3 server ready
    C: HELO there
    S: -ERR unknown command
    C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
    S: -ERR unknown command
    C: PASS early
    S: -ERR send USER first
    C: USER ${USER}
    S: +OK send PASS
    C: PASS wrong
    S: -ERR [AUTH] authentication failed
    C: PASS ${PASSWORD}
    S: -ERR send USER first
    C: AUTH CRAM-MD5
    S: -ERR unsupported authentication mechanism
    C: AUTH
    S: +OK SASL mechanisms follow
    S: PLAIN
    S: .
    C: AUTH PLAIN
    S~ ^\\+ $
    C: *
    S: -ERR authentication cancelled
    C: AUTH PLAIN
    S~ ^\\+ $
    C: %%%
    S: -ERR invalid base64 in SASL response
    C: AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}
    S: +OK maildrop locked and ready, 2 messages (${s1 + s2} octets)
    C: RETR
    S: -ERR RETR needs one message number
    C: RETR 0
    S: -ERR invalid message number
    C: TOP 1 x
    S: -ERR invalid line count
    C: RETR 99
    S: -ERR no such message
    C: ${'NOOP '.repeat(60)}
    S: -ERR command line too long
    C: STLS
    S: -ERR command not valid in this state
    C: QUIT
    S: +OK pop.dc.uece.br POP3 server signing off (2 messages left)
    <closed>
  `));
