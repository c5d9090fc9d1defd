/**
 * The fetch cache's file (`<data_dir>/imap-cache.sqlite`) follows the mail a POP3 user deletes:
 * under `correio serve` (startApp) each delivered message gets rows there from the text index's
 * read; a message deleted with Python's poplib (DELE, QUIT) loses its rows once the index sees
 * it gone (the folder's next sync: an IMAP NOOP here), while the other message keeps its own.
 * Before, the rows stayed for ever (the file grew with every message a POP3 user deleted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { runDialog } from '../helpers/dialog.js';
import { freePort, LineClient } from '../helpers/net.js';
import { python3 } from '../helpers/python.js';
import { startSite } from '../helpers/site.js';

const user = 'suzana@dc.uece.br';
const python = spawnSync('python3', ['-c', 'import poplib, ssl'], { encoding: 'utf8' });

/** The keys with rows in the cache file (none when it is not made yet). */
function cachedKeys(file: string): string[] {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return (db.prepare('SELECT DISTINCT key FROM items ORDER BY key').pluck().all() as string[]);
  } catch {
    return [];
  } finally {
    db?.close();
  }
}

/** Polls until `want` holds of the cached keys; fails with what was there after a generous minute (no timing asserted). */
async function waitForKeys(file: string, want: (keys: string[]) => boolean, what: string): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const keys = cachedKeys(file);
    if (want(keys)) return keys;
    if (Date.now() > deadline) throw new Error(`${what}: the cache file holds ${JSON.stringify(keys)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Maildir file's key: its name up to the flags. */
const keyOf = (file: string): string => basename(file).replace(/:2,.*$/, '');

void test('a message deleted over POP3 (poplib) leaves the fetch cache file once the text index sees it gone; the other keeps its rows', { skip: python.status === 0 ? false : 'python3 with poplib/ssl is not installed' }, async () => {
  const [imapPort, pop3Port] = [await freePort(), await freePort()];
  const site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: [user],
    tables: `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n[pop3]\nlisten = ["127.0.0.1:${pop3Port}"]\n`,
  });
  const file = join(site.dataDir, 'imap-cache.sqlite');
  let c: LineClient | undefined;
  try {
    for (const n of [1, 2]) {
      await runDialog(
        site.port,
        `S~ 220 .*\nC: HELO dsc.ufpb.br\nS~ 250 .*\nC: MAIL FROM:<helvecio@dsc.ufpb.br>\nS: 250 OK\nC: RCPT TO:<${user}>\nS: 250 OK\nC: DATA\nS~ 354 .*\nC: Subject: cache ${n}\nC:\nC: mensagem ${n}\nC: .\nS~ 250 OK.*\nC: QUIT\nS~ 221 .*\n`,
        { address: site.host },
      );
    }
    await site.waitForMessages(user, 2);
    const delivered = (await site.mailbox(user)).map(keyOf).sort();
    // an IMAP client selects INBOX: the folder's sync has the text index read both messages
    c = await LineClient.connect(imapPort);
    let n = 0;
    const run = async (cmd: string): Promise<string[]> => {
      const tag = `t${++n}`;
      c!.write(`${tag} ${cmd}\r\n`);
      const lines: string[] = [];
      for (;;) {
        const l = await c!.readLine(30_000);
        if (l === undefined) throw new Error(`no answer to ${cmd}`);
        if (l.startsWith(`${tag} `)) {
          assert.match(l, new RegExp(`^${tag} OK`), cmd);
          return lines;
        }
        lines.push(l);
      }
    };
    await c.readLine();
    await run(`LOGIN ${user} secret`);
    assert.ok((await run('SELECT INBOX')).includes('* 2 EXISTS'));
    assert.deepEqual(await waitForKeys(file, (k) => k.length === 2, 'both messages cached'), delivered, 'each delivered message has rows');
    // poplib deletes the first message (the oldest: POP3 lists in delivery order)
    const script = `
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.stls(context=ctx)
p.user(sys.argv[2]); p.pass_('secret')
p.dele(1)
p.quit()
`;
    const pop = await python3(script, [String(pop3Port), user]);
    assert.equal(pop.code, 0, pop.err);
    const left = (await site.mailbox(user)).map(keyOf);
    assert.equal(left.length, 1, 'DELE + QUIT removed one message');
    // the IMAP client's next NOOP syncs the folder: the text index sees the message gone
    assert.ok((await run('NOOP')).includes('* 1 EXPUNGE'));
    assert.deepEqual(await waitForKeys(file, (k) => k.length < 2, 'the deleted message\'s rows dropped'), left, 'only the remaining message has rows');
    await run('LOGOUT').catch(() => undefined);
  } finally {
    c?.socket.destroy();
    await site.destroy();
  }
});
