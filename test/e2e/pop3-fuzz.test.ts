/**
 * Fuzzing POP3 over a real socket (issue 12): random command sequences, valid and hostile
 * (unknown verbs, bad numbers, control octets, over-long lines, half SASL exchanges, logins
 * that succeed and fail), never crash the server, never leave a command unanswered, and every
 * answer is a well-formed "+OK"/"-ERR" status line (or a "+ " SASL continuation). Bounded:
 * a fixed number of runs and commands, each read with a timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AuthThrottle } from '../../src/policy/auth-throttle.js';
import { LineClient } from '../helpers/net.js';
import { PASSWORD, startHarness, USER } from './pop3-harness.js';

const numbers = fc.constantFrom('', ' 1', ' 2', ' 3', ' 0', ' -1', ' 99', ' 1 0', ' 1 5', ' 2 999999999999', ' x', ' 1 2 3', ' 4294967297', ' 1e3');
const junk = fc.string({ unit: fc.integer({ min: 0, max: 255 }).filter((b) => b !== 10 && b !== 13).map((b) => String.fromCharCode(b)), maxLength: 40 });

const command = fc.oneof(
  fc.tuple(fc.constantFrom('STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'NOOP', 'RSET', 'CAPA', 'STLS', 'list', 'Retr'), numbers).map(([v, n]) => v + n),
  fc.constantFrom(`USER ${USER}`, `PASS ${PASSWORD}`, 'PASS wrong', 'USER', 'PASS', 'USER nobody@dc.uece.br', 'APOP a b', 'AUTH', 'AUTH PLAIN', 'AUTH LOGIN'),
  fc.constantFrom(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`, 'AUTH PLAIN =', 'AUTH PLAIN %%%', 'AUTH PLAIN AAAA', '*', ''),
  junk,
  junk.map((j) => `NOOP ${j}`),
  fc.integer({ min: 200, max: 3000 }).map((n) => 'X'.repeat(n)),
);

const statusLine = /^(\+OK|-ERR)( [^\r\n]*)?$/;

/** Reads a multi-line body to its "." line; false if the connection ended first. */
async function readBody(c: LineClient): Promise<boolean> {
  for (let i = 0; i < 100_000; i++) {
    const l = await c.readLine(5000);
    if (l === undefined) return false;
    if (l === '.') return true;
  }
  return false;
}

/** Whether a +OK to this command (in upper case) carries a multi-line body. */
function multiline(line: string): boolean {
  const [verb, ...args] = line.toUpperCase().split(' ');
  if (verb === 'CAPA' || verb === 'RETR' || verb === 'TOP') return true;
  if ((verb === 'LIST' || verb === 'UIDL') && args.length === 0) return true;
  return verb === 'AUTH' && args.length === 0;
}

void test('POP3 fuzz: random command sequences always get well-formed answers', async () => {
  const h = await startHarness({
    authFailureDelayMs: 0,
    maxAuthFailures: 1000,
    authThrottle: new AuthThrottle({ maxFailuresPerAddress: 1_000_000, maxFailuresPerAccount: 1_000_000 }),
  });
  try {
    for (let i = 0; i < 3; i++) await h.store.put(USER, `Subject: ${i}\r\n\r\n.line\r\nbody ${i}\r\n`);
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), async (commands) => {
        const c = await h.connect();
        try {
          assert.match((await c.readLine(5000)) ?? '', /^\+OK /);
          for (const line of commands) {
            c.write(`${line}\r\n`);
            const answer = await c.readLine(5000);
            assert.notEqual(answer, undefined, `no answer to ${JSON.stringify(line)}`);
            if (answer === '+ ') continue; // a SASL continuation: the next command is the response
            assert.match(answer!, statusLine, `answer to ${JSON.stringify(line)}`);
            const closing = /^QUIT/i.test(line) || answer!.includes('too many authentication failures');
            if (answer!.startsWith('+OK') && multiline(line)) assert.ok(await readBody(c), `body of ${line}`);
            if (closing) {
              assert.equal(await c.readLine(5000), undefined, 'closed after a final answer');
              return;
            }
          }
          c.write('QUIT\r\n');
          assert.match((await c.readLine(5000)) ?? '', statusLine);
        } finally {
          c.close();
        }
      }),
      { numRuns: 60 },
    );
    // the server still serves a new client normally
    const c = await h.connect();
    assert.match((await c.readLine()) ?? '', /^\+OK/);
    c.write('CAPA\r\n');
    assert.equal(await c.readLine(), '+OK Capability list follows');
  } finally {
    await h.cleanup();
  }
});
