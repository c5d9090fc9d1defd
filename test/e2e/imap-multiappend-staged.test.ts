/**
 * Issue 14: a MULTIAPPEND (RFC 3502) and a COPY (RFC 9051 §6.4.7) on Maildir are seen by other
 * sessions whole, when the command completes, or not at all. A slow client sends a MULTIAPPEND's
 * literals one by one (synchronizing literals, streamed to the store as they arrive): a second
 * session polling NOOP on the target sees no EXISTS while the server asks for the next literal,
 * a third in IDLE sees no EXISTS below the batch's count, and both see all the messages after
 * the tagged OK. A MULTIAPPEND cut by the client going away, or refused by a bad line after a
 * literal, leaves no file in the target's tmp/, new/, cur/, no batch journal, and STATUS
 * MESSAGES and UIDNEXT as before. A COPY whose read of the second source fails (EIO from the
 * store's open) answers NO and leaves the target as it was; a COPY whose third source read is
 * held shows the session polling the target nothing until the OK, then every copy.
 * Standards: RFC 3502 §6.3.11, RFC 9051 §6.4.7, RFC 2177 (IDLE).
 * Security: loopback only; test passwords.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineClient } from '../helpers/net.js';
import { testImapUser, withImapServer, type TestImapServer } from '../helpers/imap-server.js';

const message = (s: string): Buffer => Buffer.from(`Subject: ${s}\r\n\r\n${s} ${'x'.repeat(3000)}\r\n`);

async function login(s: TestImapServer, select?: string): Promise<LineClient> {
  const c = await LineClient.connect(s.port, '127.0.0.1');
  await c.readLine(60_000);
  c.write(`l LOGIN ${testImapUser} secret\r\n`);
  assert.match((await c.readTagged('l', 60_000)).at(-1)!, /^l OK/);
  if (select) {
    c.write(`s SELECT ${select}\r\n`);
    assert.match((await c.readTagged('s', 60_000)).at(-1)!, /^s OK/);
  }
  return c;
}

let tags = 0;
async function run(c: LineClient, command: string): Promise<string[]> {
  const tag = `t${++tags}`;
  c.write(`${tag} ${command}\r\n`);
  const lines = await c.readTagged(tag, 60_000);
  assert.match(lines.at(-1) ?? '', new RegExp(`^${tag} `), `${command}: ${lines.join(' | ')}`);
  return lines;
}

const exists = (lines: readonly string[]): string[] => lines.filter((l) => /^\* \d+ EXISTS/.test(l));

/** The next line, which must be the continuation request. */
async function continuation(c: LineClient): Promise<void> {
  const l = await c.readLine(60_000);
  assert.match(l ?? '(none)', /^\+/);
}

/** Target's files in tmp/, new/, cur/ and batch journals. */
async function leftovers(s: TestImapServer): Promise<string[]> {
  const dir = s.store.mailboxPath(testImapUser, 'Target');
  const out = (await readdir(dir)).filter((n) => n.startsWith('correio-append-'));
  for (const sub of ['tmp', 'new', 'cur']) out.push(...(await readdir(join(dir, sub))).map((n) => `${sub}/${n}`));
  return out;
}

async function status(c: LineClient): Promise<string> {
  const line = (await run(c, 'STATUS Target (MESSAGES UIDNEXT)')).find((l) => l.startsWith('* STATUS')) ?? assert.fail('no STATUS');
  return /\((.*)\)/.exec(line)![1];
}

/**
 * Starts `APPEND Target` of `batch` with synchronizing literals and sends all but the last,
 * checking after each (the server asks for the next literal once the store took the previous)
 * that `poll`'s NOOP reports no EXISTS.
 */
async function sendAllButLast(a: LineClient, poll: LineClient, batch: readonly Buffer[]): Promise<void> {
  a.write(`m APPEND Target {${batch[0].length}}\r\n`);
  await continuation(a);
  for (let i = 0; i < batch.length - 1; i++) {
    a.write(Buffer.concat([batch[i], Buffer.from(` {${batch[i + 1].length}}\r\n`)]));
    await continuation(a);
    assert.deepEqual(exists(await run(poll, 'NOOP')), [], `message ${i + 1} of ${batch.length} is stored: no other session sees it yet`);
  }
}

void test('a slow MULTIAPPEND: other sessions (NOOP, IDLE) see no message before the OK, then all of them', () =>
  withImapServer(async (s) => {
    const a = await login(s);
    await run(a, 'CREATE Target');
    const poll = await login(s, 'Target');
    const idle = await login(s, 'Target');
    try {
      idle.write('i IDLE\r\n');
      await continuation(idle);
      const batch = [message('m1'), message('m2'), message('m3'), message('m4')];
      await sendAllButLast(a, poll, batch);
      a.write(Buffer.concat([batch.at(-1)!, Buffer.from('\r\n')]));
      assert.match((await a.readTagged('m', 60_000)).at(-1)!, /^m OK \[APPENDUID \d+ 1:4\]/);
      assert.deepEqual(exists(await run(poll, 'NOOP')), ['* 4 EXISTS']);
      idle.write('DONE\r\n');
      const seen = [...(await idle.readTagged('i', 60_000)), ...(await run(idle, 'NOOP'))];
      assert.deepEqual(exists(seen), ['* 4 EXISTS'], `IDLE saw: ${seen.join(' | ')}`);
    } finally {
      for (const c of [a, poll, idle]) c.close();
    }
  }, { appendStreamFrom: 1 }));

for (const how of ['client gone', 'bad line'] as const) {
  void test(`a MULTIAPPEND cut half-way (${how}): nothing seen, no file left, UIDNEXT unchanged`, () =>
    withImapServer(async (s) => {
      const a = await login(s);
      await run(a, 'CREATE Target');
      const poll = await login(s, 'Target');
      const watcher = await login(s);
      try {
        const before = await status(watcher);
        const batch = [message('c1'), message('c2'), message('c3')];
        await sendAllButLast(a, poll, batch);
        if (how === 'client gone') a.close();
        else {
          a.write(Buffer.concat([batch.at(-1)!, Buffer.from(' (\\Bogus-paren\r\n')]));
          assert.match((await a.readTagged('m', 60_000)).at(-1)!, /^m (BAD|NO) /);
        }
        // the server rolls the batch back once it sees the end (bounded: a loaded machine)
        const deadline = Date.now() + 60_000;
        while ((await leftovers(s)).length > 0 && Date.now() < deadline) await sleep(20);
        assert.deepEqual(await leftovers(s), []);
        assert.deepEqual(exists(await run(poll, 'NOOP')), []);
        assert.equal(await status(watcher), before);
      } finally {
        for (const c of [a, poll, watcher]) c.close();
      }
    }, { appendStreamFrom: 1 }));
}

/** The server's store with INBOX holding three messages, and its open of INBOX messages replaceable. */
async function withSources(fn: (s: TestImapServer, hook: { open?: (n: number, real: () => Promise<Readable>) => Promise<Readable> }) => Promise<void>): Promise<void> {
  await withImapServer(async (s) => {
    for (const n of [1, 2, 3]) await s.store.deliver(testImapUser, Readable.from([message(`s${n}`)]), { uniqueKey: `s${n}` });
    const hook: { open?: (n: number, real: () => Promise<Readable>) => Promise<Readable> } = {};
    const real = s.store.open.bind(s.store);
    let opens = 0;
    s.store.open = (user, key, folder, opts) => (hook.open && (folder ?? '') === '' ? hook.open(++opens, () => real(user, key, folder, opts)) : real(user, key, folder, opts));
    await fn(s, hook);
  });
}

void test('COPY whose second source read fails (EIO): NO, the target as it was, no file left', () =>
  withSources(async (s, hook) => {
    const a = await login(s, 'INBOX');
    await run(a, 'CREATE Target');
    const watcher = await login(s);
    try {
      const before = await status(watcher);
      hook.open = async (n, real) => {
        const src = await real();
        if (n !== 2) return src;
        return Readable.from(
          (async function* () {
            for await (const chunk of src as AsyncIterable<Buffer>) {
              yield chunk.subarray(0, 100);
              break;
            }
            src.destroy();
            throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
          })(),
        );
      };
      const answer = (await run(a, 'COPY 1:3 Target')).at(-1)!;
      assert.match(answer, /^t\d+ NO /);
      hook.open = undefined;
      assert.deepEqual(await leftovers(s), []);
      assert.equal(await status(watcher), before);
      // the same COPY, left alone, copies all three
      assert.match((await run(a, 'COPY 1:3 Target')).at(-1)!, /^t\d+ OK \[COPYUID \d+ 1:3 /);
      assert.match(await status(watcher), /MESSAGES 3/);
    } finally {
      for (const c of [a, watcher]) c.close();
    }
  }));

void test('COPY held on its third source: the session polling the target sees nothing until the OK, then all', () =>
  withSources(async (s, hook) => {
    const a = await login(s, 'INBOX');
    await run(a, 'CREATE Target');
    const poll = await login(s, 'Target');
    try {
      let reached!: () => void;
      const atThird = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      hook.open = async (n, real) => {
        if (n === 3) {
          reached();
          await held;
        }
        return real();
      };
      a.write('c COPY 1:3 Target\r\n');
      await atThird;
      assert.deepEqual(exists(await run(poll, 'NOOP')), [], 'two copies made: not seen yet');
      release();
      assert.match((await a.readTagged('c', 60_000)).at(-1)!, /^c OK \[COPYUID \d+ 1:3 1:3\]/);
      assert.deepEqual(exists(await run(poll, 'NOOP')), ['* 3 EXISTS']);
    } finally {
      for (const c of [a, poll]) c.close();
    }
  }));
