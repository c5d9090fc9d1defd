/**
 * Issue 14, CATENATE (RFC 4469) of a message read from its file as the store writes the result
 * (catenate CatenatedStream, 6feeeb6; here from 10 octets on, the server's `appendStreamFrom`,
 * so the message can be small): what is refused stores nothing. Over the APPENDLIMIT: NO [TOOBIG];
 * over the user's own quota (smaller than the copy): NO [OVERQUOTA]; the message's file failing
 * after its URL was checked, while the copy is written: truncated (NO [UNAVAILABLE], cut short),
 * a read error after its first octets (EIO: NO [UNAVAILABLE]) and removed (ENOENT: NO [BADURL]).
 * Each time STATUS MESSAGES of the target folder is unchanged and its tmp/ is empty; the same
 * command then succeeds once the cause is gone (the limit or quota raised, the read error not
 * made again), so the refusal was the cause's. The failures are
 * made deterministic by the folder store the server is given (test/helpers/catenate-site): its
 * `open` of the URL's message is passed through the first time (the URL's check) and broken the
 * second (the copy's read).
 * Standards: RFC 4469 §6 (TOOBIG, nothing appended), RFC 9208 §5.3 (OVERQUOTA), RFC 5530.
 * Security: loopback only; test passwords.
 * Limitations: Maildir store only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { MailboxQuota } from '../../src/mailbox/index.js';
import { run, user, withCatenateSite, type CatenateSite } from '../helpers/catenate-site.js';

const source = Buffer.from(`From: Ana <ana@example.net>\r\nTo: ${user}\r\nSubject: planilha\r\n\r\n${'linha de dados\r\n'.repeat(200)}`);
const prefix = 'X-Copia: sim\r\n';
const copySize = prefix.length + source.length;

/** The site, its source message streamed from 10 octets on. */
const withSite = (opts: Parameters<typeof withCatenateSite>[2], fn: (s: CatenateSite) => Promise<void>): Promise<void> =>
  withCatenateSite('maildir', source, (x) => ({ appendStreamFrom: 10, ...opts(x) }), fn);

/** APPEND Copia CATENATE (TEXT prefix, URL of INBOX's message): the tagged answer. */
async function catenate(s: CatenateSite): Promise<string> {
  return (await run(s.c, `APPEND Copia CATENATE (TEXT {${prefix.length}+}\r\n${prefix} URL "/INBOX/;UID=${s.uid}")`)).at(-1)!;
}

/** `messages` stored in Copia (STATUS MESSAGES), nothing else left: no file in its tmp/, no batch journal. */
async function assertStored(s: CatenateSite, messages: number, what: string): Promise<void> {
  assert.match((await run(s.c, 'STATUS Copia (MESSAGES)')).join('\n'), new RegExp(`MESSAGES ${messages}\\)`), `${what}: STATUS MESSAGES`);
  const left = (await s.leftovers('Copia')).filter((n) => !/^(?:new|cur)\//.test(n));
  assert.deepEqual(left, [], `${what}: nothing left in tmp/`);
}

void test('CATENATE of a streamed message over the APPENDLIMIT: NO [TOOBIG], nothing stored; under it, stored', async () => {
  await withSite(
    () => ({ appendLimit: copySize - 1 }),
    async (s) => {
      assert.match(await catenate(s), /^t\d+ NO \[TOOBIG\]/);
      await assertStored(s, 0, 'TOOBIG');
    },
  );
  await withSite(
    () => ({ appendLimit: copySize }),
    async (s) => {
      assert.match(await catenate(s), /^t\d+ OK \[APPENDUID \d+ \d+\]/);
      await assertStored(s, 1, 'at the limit');
    },
  );
});

void test('CATENATE of a streamed message over the user\'s quota (smaller than the copy): NO [OVERQUOTA], nothing stored; with the quota raised, stored', async () => {
  await withSite(
    ({ maildir, directory }) => ({ quota: new MailboxQuota({ directory, mailboxes: maildir!, defaults: () => ({ storage: 0, messages: 0 }) }) }),
    async (s) => {
      await s.directory.setUserQuota(user, { storage: copySize - 1 });
      assert.match(await catenate(s), /^t\d+ NO \[OVERQUOTA\]/);
      await assertStored(s, 0, 'OVERQUOTA');
      await s.directory.setUserQuota(user, { storage: 10 * copySize });
      assert.match(await catenate(s), /^t\d+ OK \[APPENDUID/);
      await assertStored(s, 1, 'under the quota');
    },
  );
});

void test('CATENATE of a streamed message whose file fails after its URL was checked (truncated, a read error mid-copy, removed): a NO, nothing stored; then, left alone, stored', async () => {
  const events: unknown[] = [];
  const onError = (e: unknown): void => void events.push(e);
  subscribe('correio:error', onError);
  try {
    for (const [how, answer] of [
      ['truncate', /^t\d+ NO \[UNAVAILABLE\] A message of the URL was cut short meanwhile/],
      ['eio', /^t\d+ NO \[UNAVAILABLE\] Message cannot be read now \(EIO\)/],
      ['unlink', /^t\d+ NO \[BADURL \/INBOX\/;UID=\d+\]/],
    ] as const) {
      await withSite(
        () => ({}),
        async (s) => {
          s.arm(how);
          assert.match(await catenate(s), answer, how);
          await assertStored(s, 0, how);
          // (a file removed or cut short is not the message any more)
          if (how !== 'eio') return;
          assert.match(await catenate(s), /^t\d+ OK \[APPENDUID/, `${how}: the same command, left alone`);
          await assertStored(s, 1, `${how}: left alone`);
        },
      );
    }
    assert.ok(events.some((e) => (e as { errno?: string }).errno === 'EIO'), 'the EIO published on the error channel');
  } finally {
    unsubscribe('correio:error', onError);
  }
});
