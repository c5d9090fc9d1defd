/**
 * Issue 17: two correio nodes (two `correio serve` processes, each with its own data_dir) on
 * one PostgreSQL database, SMTP on 127.0.0.2 and 127.0.0.3, mailboxes in one shared Maildir
 * ([storage] mail_dir). Mail is accepted on node A; A is killed with SIGKILL right after its
 * last 250; more mail goes to node B. Every message that got 250 is delivered, exactly once
 * per recipient (B takes A's leased and unclaimed envelopes over once A's leases run out),
 * and the shared queue drains.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';
import { sendMail, startSiteProcess, waitFor } from '../helpers/site.js';

const skip = await pgUnavailable();

const users = ['suzana@dc.uece.br', 'pascal@dc.uece.br', 'jacques@dc.uece.br'];

/** Subject of every message file in every user's Maildir (new/ and cur/), counted. */
async function deliveredSubjects(mailDir: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const u of users) {
    const [local, domain] = u.split('@');
    for (const sub of ['new', 'cur']) {
      const d = join(mailDir, domain, local, sub);
      if (!existsSync(d)) continue;
      for (const f of await readdir(d)) {
        const subject = /^Subject: (.*)$/m.exec(await readFile(join(d, f), 'utf8'))?.[1] ?? '?';
        const key = `${u} ${subject}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
  }
  return seen;
}

async function queued(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM queue_envelopes')).rows[0].n);
  } finally {
    await c.end();
  }
}

void describe('t-90 two nodes on one PostgreSQL: kill -9 of one loses and duplicates nothing', { skip }, () => {
  void test('mail accepted on A, A killed, B delivers everything exactly once', () =>
    withTestDatabase(async (db) => {
      const shared = await mkdtemp(join(tmpdir(), 'correio-t70-'));
      const mailDir = join(shared, 'mail');
      const tables =
        `[storage]\nurl = ${JSON.stringify(db.url)}\nlease = "3s"\npoll_interval = "1s"\nmail_dir = ${JSON.stringify(mailDir)}\n` +
        '[metrics]\nlisten = []\n[imap]\nlisten = []\n';
      const common = { domains: ['dc.uece.br'], tables };
      // the directory is shared: users are made once, by A's preparation
      const a = await startSiteProcess({ ...common, host: '127.0.0.2', hostname: 'a.dc.uece.br', users });
      const b = await startSiteProcess({ ...common, host: '127.0.0.3', hostname: 'b.dc.uece.br' });
      try {
        const accepted: string[] = [];
        const send = async (node: { host: string; port: number }, i: number): Promise<void> => {
          const subject = `message ${i}`;
          const r = await sendMail(node, 'helvecio@dsc.ufpb.br', users, `From: helvecio@dsc.ufpb.br\nSubject: ${subject}\n\nbody ${i}\n`);
          if (r.final?.startsWith('250')) accepted.push(subject);
        };
        // 30 messages to A, five connections at a time, then A dies at once
        for (let i = 0; i < 30; i += 5) await Promise.all([0, 1, 2, 3, 4].map((j) => send(a, i + j)));
        await a.kill9();
        assert.equal(accepted.length, 30, 'A accepted every message before it died');
        // 10 more to B
        for (let i = 30; i < 40; i += 5) await Promise.all([0, 1, 2, 3, 4].map((j) => send(b, i + j)));
        assert.equal(accepted.length, 40);

        // B drains the queue: A's unclaimed envelopes at its next rescan, A's leased ones once they expire
        await waitFor('the shared queue to drain', async () => (await queued(db.url)) === 0, 60_000);
        const seen = await deliveredSubjects(mailDir);
        const missing: string[] = [];
        const twice: string[] = [];
        for (const s of accepted) {
          for (const u of users) {
            const n = seen.get(`${u} ${s}`) ?? 0;
            if (n === 0) missing.push(`${u} ${s}`);
            if (n > 1) twice.push(`${u} ${s} ×${n}`);
          }
        }
        assert.deepEqual(missing, [], 'every accepted message reached every mailbox');
        assert.deepEqual(twice, [], 'no mailbox got a message twice');
        assert.equal([...seen.values()].reduce((x, y) => x + y, 0), accepted.length * users.length);
      } finally {
        await a.destroy();
        await b.destroy();
        await rm(shared, { recursive: true, force: true });
      }
    }));
});
