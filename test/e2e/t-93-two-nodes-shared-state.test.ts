/**
 * Issue 17: what each node keeps locally is nothing that matters. Two `correio serve` nodes
 * (data directories of their own) on one PostgreSQL database with the mailboxes in it:
 * - a DKIM key made with `correio dkim keygen` through node A's configuration signs mail
 *   submitted on node B, without a reload and with no key file in B's data directory; a
 *   rotation (a new key made inactive, activated, the old one deactivated) is followed by B;
 * - a conversation delivered through node A has the same Email ids and Thread ids over JMAP on
 *   both nodes, and none of them keeps threads.sqlite or email-ids.sqlite;
 * - a JMAP Email moved on node B keeps its id on node A (the aliases are shared);
 * - a text condition inside a word ("mestral" of "trimestral") finds the message on B, as on
 *   the files backend (PostgreSQL's trigram index narrows, the exact match decides);
 * - an API token made with `correio token create` through A's configuration submits on B, and
 *   an HTTP submission accepted by B, replayed to A with its Idempotency-Key, is answered as a
 *   replay (B's answer), not sent again; neither node keeps tokens.sqlite or idempotency.sqlite.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../helpers/net.js';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';
import { runCli } from '../helpers/cli.js';
import { sendMail, startSiteProcess, waitFor } from '../helpers/site.js';

const skip = await pgUnavailable();

const reader = 'helena@dc.uece.br';
const writer = 'suzana@dc.uece.br';
const auth = (u: string): string => `Basic ${Buffer.from(`${u}:secret`).toString('base64')}`;
const accountOf = (u: string): string => `a${Buffer.from(u, 'utf8').toString('base64url')}`;

type Call = [string, Record<string, unknown>, string];

async function jmap(base: string, user: string, calls: Call[]): Promise<Record<string, unknown>[]> {
  const r = await fetch(`${base}/jmap/api`, {
    method: 'POST',
    headers: { Authorization: auth(user), 'Content-Type': 'application/json' },
    body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'], methodCalls: calls }),
  });
  assert.equal(r.status, 200);
  return ((await r.json()) as { methodResponses: [string, Record<string, unknown>, string][] }).methodResponses.map((m) => m[1]);
}

interface Seen {
  subject: string;
  id: string;
  threadId: string;
}

/** Every Email of the account as the node answers: subject, id, threadId (sorted by subject). */
async function emails(base: string, user: string): Promise<Seen[]> {
  const [, got] = await jmap(base, user, [
    ['Email/query', { accountId: accountOf(user) }, 'q'],
    ['Email/get', { accountId: accountOf(user), '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject', 'threadId'] }, 'g'],
  ]);
  return ((got.list ?? []) as Seen[]).map((e) => ({ subject: e.subject, id: e.id, threadId: e.threadId })).sort((x, y) => x.subject.localeCompare(y.subject));
}

async function bodies(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ t: string }>("SELECT convert_from(body, 'UTF8') AS t FROM mail_bodies")).rows.map((r) => r.t);
  } finally {
    await c.end();
  }
}

void describe('t-93 two nodes on one PostgreSQL: DKIM keys, Email and Thread ids, text inside words, API tokens, Idempotency-Key', { skip }, () => {
  void test('keygen through A signs on B; the same ids and threads on both; a move on B keeps the id on A; "mestral" finds "trimestral"; a token made through A submits on B, replayed on A', () =>
    withTestDatabase(async (db) => {
      const hosts = ['127.0.0.2', '127.0.0.3'];
      // HTTP ports picked afresh each time startSiteProcess starts a node over (one taken by a
      // parallel test meanwhile): the ones the running node listens on are kept here
      const httpPorts: number[] = [];
      const tables = (i: number) => async (): Promise<string> => {
        httpPorts[i] = await freePort(hosts[i]);
        return (
          `[storage]\nurl = ${JSON.stringify(db.url)}\nlease = "3s"\npoll_interval = "1s"\n` +
          `[metrics]\nlisten = []\n[imap]\nlisten = []\n[http]\nlisten = ["${hosts[i]}:${httpPorts[i]}"]\n`
        );
      };
      const a = await startSiteProcess({ domains: ['dc.uece.br'], host: hosts[0], hostname: 'a.dc.uece.br', tables: tables(0), users: [reader, writer] });
      const b = await startSiteProcess({ domains: ['dc.uece.br'], host: hosts[1], hostname: 'b.dc.uece.br', tables: tables(1) });
      const [onA, onB] = hosts.map((h, i) => `http://${h}:${httpPorts[i]}`);
      try {
        // DKIM: a key made through A's configuration, then a message submitted on B
        const k = await runCli(['dkim', 'keygen', 'dc.uece.br', '--selector', 'shared1', '--algorithm', 'ed25519', '--config', a.configFile]);
        assert.equal(k.code, 0, k.stderr);
        assert.match(k.stderr, /PostgreSQL/);
        assert.equal(existsSync(join(a.dataDir, 'dkim')), false, 'no key file on A');
        const records = await runCli(['dns', 'records', 'dc.uece.br', '--config', b.configFile]);
        assert.equal(records.code, 0, records.stderr);
        assert.ok(records.stdout.includes(k.stdout.trim().split('\n').pop()!), 'B prints the record of the key made through A');
        // the selectors of the DKIM signatures of a message submitted on B now
        const selectorsOnB = async (): Promise<string[]> => {
          const marker = `signed-${Date.now()}-${Math.random()}`;
          const r = await fetch(`${onB}/api/v1/messages`, {
            method: 'POST',
            headers: { authorization: auth(writer), 'content-type': 'application/json' },
            body: JSON.stringify({ from: writer, to: [reader], subject: marker, text: 'assinado' }),
          });
          assert.equal(r.status, 202, await r.clone().text());
          const m = await waitFor('the submitted message', async () => (await bodies(db.url)).find((t) => t.includes(marker)));
          const head = m.slice(0, m.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
          return [...head.matchAll(/^DKIM-Signature:.*?\bd=dc\.uece\.br;.*?\bs=([a-z0-9]+);/gim)].map((x) => x[1]).sort();
        };
        const signsWith = (want: string[], what: string): Promise<true> =>
          waitFor(what, async () => JSON.stringify(await selectorsOnB()) === JSON.stringify(want) || undefined, 30_000, 500);
        await signsWith(['shared1'], 'B to sign with the key made through A');
        // a rotation: a new key kept inactive while its record is published, then switched on
        // and the old one off, each through A's configuration, each seen by B
        const k2 = await runCli(['dkim', 'keygen', 'dc.uece.br', '--selector', 'shared2', '--algorithm', 'ed25519', '--inactive', '--config', a.configFile]);
        assert.equal(k2.code, 0, k2.stderr);
        assert.match(k2.stdout, /shared2\._domainkey\.dc\.uece\.br\. IN TXT "v=DKIM1; k=ed25519; p=/);
        const listed = await runCli(['dkim', 'list', '--config', b.configFile]);
        assert.equal(listed.stdout, 'dc.uece.br shared1 ed25519-sha256 active postgres\ndc.uece.br shared2 ed25519-sha256 inactive postgres\n');
        assert.deepEqual(await selectorsOnB(), ['shared1'], 'an inactive key does not sign');
        for (const [op, sel] of [['activate', 'shared2'], ['deactivate', 'shared1']]) {
          const r = await runCli(['dkim', op, 'dc.uece.br', sel, '--config', a.configFile]);
          assert.equal(r.code, 0, r.stderr);
        }
        await signsWith(['shared2'], 'B to sign with the new key only');
        const none = await runCli(['dkim', 'activate', 'dc.uece.br', 'nokey', '--config', a.configFile]);
        assert.equal(none.code, 65);
        assert.equal(none.stderr, 'correio: no key for selector nokey of dc.uece.br in PostgreSQL\n');
        // correio check on B looks at PostgreSQL's keys too (its DNS comparison names the active one)
        const check = await runCli(['check', '--config', b.configFile]);
        assert.match(check.stdout + check.stderr, /shared2\._domainkey\.dc\.uece\.br/);
        assert.doesNotMatch(check.stdout + check.stderr, /shared1\._domainkey/, 'an inactive key is not checked');
        assert.equal(existsSync(join(b.dataDir, 'dkim')), false, 'no key file on B');

        // a conversation delivered through A: the reply first, then its parent, then one more
        const letter = (subject: string, id: string, refs = ''): string =>
          `From: helvecio@dsc.ufpb.br\nMessage-ID: <${id}>\n${refs ? `References: ${refs}\n` : ''}Subject: ${subject}\n\nvendas ${subject}\n`;
        for (const m of [letter('Re: Relatório trimestral', 'r1@ufpb', '<p1@ufpb>'), letter('Relatório trimestral', 'p1@ufpb'), letter('outro assunto', 'o1@ufpb')]) {
          assert.match((await sendMail(a, 'helvecio@dsc.ufpb.br', [reader], m)).final ?? '', /^250/);
        }
        const subjects = (l: Seen[]): string[] => l.map((e) => e.subject).filter((s) => !s.startsWith('signed-'));
        const seenA = await waitFor('three messages on A', async () => {
          const l = await emails(onA, reader);
          return subjects(l).length === 3 ? l : undefined;
        });
        const seenB = await emails(onB, reader);
        assert.deepEqual(seenB, seenA, 'B answers the same Email ids and Thread ids as A');
        const byS = new Map(seenA.map((e) => [e.subject, e]));
        assert.equal(byS.get('Re: Relatório trimestral')!.threadId, byS.get('Relatório trimestral')!.threadId, 'the reply is in its parent\'s thread');
        assert.notEqual(byS.get('outro assunto')!.threadId, byS.get('Relatório trimestral')!.threadId);
        for (const n of [a, b]) {
          assert.equal(existsSync(join(n.dataDir, 'threads.sqlite')), false, `no threads.sqlite in ${n.dataDir}`);
          assert.equal(existsSync(join(n.dataDir, 'email-ids.sqlite')), false, `no email-ids.sqlite in ${n.dataDir}`);
        }

        // a move on B (Email/set mailboxIds) keeps the Email's id, and A answers it too
        const [boxes] = await jmap(onB, reader, [['Mailbox/get', { accountId: accountOf(reader), properties: ['name', 'role'] }, 'm']]);
        const archive = (boxes.list as { id: string; role: string | null }[]).find((x) => x.role === 'archive')!;
        const moved = byS.get('outro assunto')!;
        const [set] = await jmap(onB, reader, [['Email/set', { accountId: accountOf(reader), update: { [moved.id]: { mailboxIds: { [archive.id]: true } } } }, 's']]);
        assert.ok((set.updated as Record<string, unknown>)[moved.id] !== undefined, JSON.stringify(set));
        const after = await emails(onA, reader);
        assert.deepEqual(after.find((e) => e.subject === 'outro assunto'), moved, 'A: the moved Email has its id and thread still');

        // text inside a word, on B: found as the files backend finds it
        const [q] = await jmap(onB, reader, [['Email/query', { accountId: accountOf(reader), filter: { subject: 'mestral' } }, 'q']]);
        assert.deepEqual([...(q.ids as string[])].sort(), [byS.get('Re: Relatório trimestral')!.id, byS.get('Relatório trimestral')!.id].sort());

        // a token made through A submits on B; B's answer is replayed by A, nothing sent twice
        const made = await runCli(['token', 'create', writer, '--scope', 'submit', '--config', a.configFile]);
        assert.equal(made.code, 0, made.stderr);
        const headers = { authorization: `Bearer ${made.stdout.trim()}`, 'content-type': 'application/json', 'idempotency-key': 'pedido-4711' };
        const body = JSON.stringify({ from: writer, to: [reader], subject: 'uma vez só', text: 'olá' });
        const first = await fetch(`${onB}/api/v1/messages`, { method: 'POST', headers, body });
        assert.equal(first.status, 202, await first.clone().text());
        const { id } = (await first.json()) as { id: string };
        const replay = await fetch(`${onA}/api/v1/messages`, { method: 'POST', headers, body });
        assert.equal(replay.status, 202);
        assert.equal(replay.headers.get('idempotent-replayed'), 'true', 'A answers B\'s request as a replay');
        assert.deepEqual(await replay.json(), { id });
        const other = await fetch(`${onA}/api/v1/messages`, { method: 'POST', headers, body: body.replace('uma vez só', 'outra') });
        assert.equal(other.status, 422, 'the key with another request is refused on A too');
        for (const n of [a, b]) {
          for (const f of ['tokens.sqlite', 'idempotency.sqlite']) assert.equal(existsSync(join(n.dataDir, f)), false, `no ${f} in ${n.dataDir}`);
        }
      } finally {
        await a.destroy();
        await b.destroy();
      }
    }));
});
