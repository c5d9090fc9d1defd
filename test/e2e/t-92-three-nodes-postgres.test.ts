/**
 * Issue 17: three correio nodes (three `correio serve` processes with data directories of their
 * own) on one PostgreSQL database holding the directory, the queue and the mailboxes; SMTP and
 * IMAP on 127.0.0.2, 127.0.0.3 and 127.0.0.4.
 * - IDLE on node A (imapflow) hears of a delivery made by node B (LISTEN/NOTIFY), and so
 *   does a JMAP EventSource on node A of one made by node C; JMAP text conditions on node B
 *   find a message delivered by node A (PostgreSQL's trigram index, the exact match confirming).
 * - A client that read a folder on node A and reconnects to node C resumes with QRESYNC: the
 *   same UIDVALIDITY, the expunge made meanwhile as VANISHED (EARLIER), the flag change with
 *   its MODSEQ.
 * - Messages submitted round-robin to the three nodes (to local users and to a remote peer that
 *   holds its replies, so deliveries stay in flight) while node B is killed with SIGKILL in
 *   the middle, once it is seen holding leases: B died holding leases; every message that got
 *   250 reaches every mailbox and the remote peer, none reaches a mailbox twice (delivery is
 *   idempotent on the envelope in PostgreSQL), B's leases are taken over (its remote
 *   deliveries reach the peer), duplicates there are at most the leases B held, and the queue
 *   drains.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow, type ExpungeEvent, type FlagsEvent } from 'imapflow';
import pg from 'pg';
import { startCountingSink } from '../helpers/counting-smtp-sink.js';
import { freePort } from '../helpers/net.js';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';
import { sendMail, startSiteProcess, waitFor } from '../helpers/site.js';

const skip = await pgUnavailable();

const users = ['suzana@dc.uece.br', 'pascal@dc.uece.br', 'jacques@dc.uece.br'];
const reader = 'helena@dc.uece.br';

async function scalar(url: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>(sql)).rows[0].n);
  } finally {
    await c.end();
  }
}

async function rows<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[]): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

function imap(port: number, host: string, opts: { qresync?: boolean } = {}): ImapFlow {
  // imapflow idles by itself once nothing else is to do (autoIdleDelay)
  return new ImapFlow({ host, port, secure: false, tls: { rejectUnauthorized: false }, auth: { user: reader, pass: 'secret' }, logger: false, autoIdleDelay: 200, ...opts });
}

const letter = (subject: string): string => `From: helvecio@dsc.ufpb.br\nSubject: ${subject}\n\nbody of ${subject}\n`;

void describe('t-92 three nodes on one PostgreSQL (directory, queue and mailboxes)', { skip }, () => {
  void test('IDLE across nodes, QRESYNC on another node, kill -9 of one node: every 250 delivered once, queue drained', () =>
    withTestDatabase(async (db) => {
      const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
      // IMAP and HTTP ports picked afresh each time startSiteProcess starts a node over (one
      // taken by a parallel test meanwhile): the ones the running node listens on are kept here
      const imapPorts: number[] = [];
      const httpPorts: number[] = [];
      // a remote destination that holds its replies while the test wants deliveries in flight
      const far = await startCountingSink();
      const tables = (i: number) => async (): Promise<string> => {
        imapPorts[i] = await freePort(hosts[i]);
        httpPorts[i] = await freePort(hosts[i]);
        return (
          `[storage]\nurl = ${JSON.stringify(db.url)}\nlease = "3s"\npoll_interval = "1s"\n` +
          `[delivery.routes]\n"remote.example" = "smtp:[127.0.0.1]:${far.port}"\n` +
          `[metrics]\nlisten = []\n[imap]\nlisten = ["${hosts[i]}:${imapPorts[i]}"]\n[http]\nlisten = ["${hosts[i]}:${httpPorts[i]}"]\n`
        );
      };
      type Node = Awaited<ReturnType<typeof startSiteProcess>>;
      const started: Node[] = [];
      const start = async (i: number, extra: { users?: string[] } = {}): Promise<Node> => {
        const node = await startSiteProcess({ domains: ['dc.uece.br'], host: hosts[i], hostname: `${'abc'[i]}.dc.uece.br`, tables: tables(i), ...extra });
        started.push(node);
        return node;
      };
      const clients: ImapFlow[] = [];
      // every node started is stopped however a step fails, the starts included: a node left
      // running kept the test file alive until its 300 s timeout
      try {
        // the directory is shared: users are made once, by A's preparation
        const a = await start(0, { users: [...users, reader] });
        const b = await start(1);
        const c = await start(2);
        const nodes = [a, b, c];
        // IDLE on A hears of a delivery accepted and made by B
        const idle = imap(imapPorts[0], hosts[0]);
        clients.push(idle);
        await idle.connect();
        await idle.mailboxOpen('INBOX');
        let exists = 0;
        idle.on('exists', (e: { count: number }) => (exists = e.count));
        await new Promise((r) => setTimeout(r, 500)); // imapflow is in IDLE now
        assert.match((await sendMail(b, 'helvecio@dsc.ufpb.br', [reader], letter('via B'))).final ?? '', /^250/);
        await waitFor('IDLE on node A to announce the message delivered by node B', () => Promise.resolve(exists === 1 || undefined), 20_000);
        const first = await idle.fetchOne('1', { source: true, envelope: true });
        assert.ok(first);
        assert.equal(first.envelope?.subject, 'via B');
        assert.match(first.source?.toString() ?? '', /^Received:[^;]*\sby b\.dc\.uece\.br\s/m, 'accepted by node B');
        await idle.logout();

        // a client on A notes where it was; meanwhile a client on C flags one message and
        // expunges another; the first client reconnects to C and resumes with QRESYNC
        assert.match((await sendMail(c, 'helvecio@dsc.ufpb.br', [reader], letter('via C'))).final ?? '', /^250/);
        await a.waitForMessages(reader, 2);
        const onA = imap(imapPorts[0], hosts[0], { qresync: true });
        clients.push(onA);
        await onA.connect();
        const boxA = await onA.mailboxOpen('INBOX');
        assert.equal(boxA.exists, 2);
        const before = boxA.highestModseq;
        await onA.logout();
        const onC = imap(imapPorts[2], hosts[2]);
        clients.push(onC);
        await onC.connect();
        await onC.mailboxOpen('INBOX');
        await onC.messageFlagsAdd('2', ['\\Flagged'], { uid: true });
        await onC.messageDelete('1', { uid: true });
        await onC.logout();
        const back = imap(imapPorts[2], hosts[2], { qresync: true });
        clients.push(back);
        const flags: FlagsEvent[] = [];
        const gone: ExpungeEvent[] = [];
        back.on('flags', (e: FlagsEvent) => flags.push(e));
        back.on('expunge', (e: ExpungeEvent) => gone.push(e));
        await back.connect();
        const boxC = await back.mailboxOpen('INBOX', { changedSince: before, uidValidity: boxA.uidValidity });
        assert.equal(boxC.uidValidity, boxA.uidValidity, 'one UIDVALIDITY on every node');
        assert.ok(boxC.highestModseq! > before!);
        assert.deepEqual(gone.map((e) => [e.vanished, e.earlier, e.uid]), [[true, true, 1]]);
        assert.deepEqual(flags.map((e) => [e.uid, [...e.flags]]), [[2, ['\\Flagged']]]);
        await back.logout();

        // JMAP push on node A: an EventSource hears of a delivery made by node C
        const ac = new AbortController();
        const auth = `Basic ${Buffer.from(`${reader}:secret`).toString('base64')}`;
        const res = await fetch(`http://${hosts[0]}:${httpPorts[0]}/jmap/eventsource?types=*&closeafter=state&ping=0`, {
          headers: { Authorization: auth, Accept: 'text/event-stream' },
          signal: ac.signal,
        });
        assert.equal(res.status, 200);
        const events = res.body!.getReader();
        assert.match((await sendMail(c, 'helvecio@dsc.ufpb.br', [reader], letter('push via C'))).final ?? '', /^250/);
        let text = '';
        const decoder = new TextDecoder();
        while (!/event: state\ndata: .*\n\n/.test(text)) {
          const { value, done } = await events.read();
          if (done) break;
          text += decoder.decode(value);
        }
        ac.abort();
        assert.match(text, /"@type":"StateChange"/, `node A pushed a state change: ${text}`);
        assert.match(text, /"Email":/);

        // JMAP text conditions on node B find a message delivered by node A at once, through
        // PostgreSQL's trigram index (no node-local search.sqlite), confirmed by the exact match
        const report = 'From: helvecio@dsc.ufpb.br\nSubject: Relatório trimestral\n\nas vendas do norte subiram\n';
        assert.match((await sendMail(a, 'helvecio@dsc.ufpb.br', [reader], report)).final ?? '', /^250/);
        await a.waitForMessages(reader, 3);
        const query = async (filter: Record<string, unknown>): Promise<string[]> => {
          const r = await fetch(`http://${hosts[1]}:${httpPorts[1]}/jmap/api`, {
            method: 'POST',
            headers: { Authorization: auth, 'Content-Type': 'application/json' },
            body: JSON.stringify({
              using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
              methodCalls: [
                ['Email/query', { accountId: readerAccount, filter }, 'q'],
                ['Email/get', { accountId: readerAccount, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject'] }, 'g'],
              ],
            }),
          });
          const body = (await r.json()) as { methodResponses: [string, { list?: { subject: string }[] }, string][] };
          return (body.methodResponses[1][1].list ?? []).map((e) => e.subject).sort();
        };
        const readerAccount = `a${Buffer.from(reader, 'utf8').toString('base64url')}`;
        assert.deepEqual(await query({ text: 'trimestral' }), ['Relatório trimestral']);
        assert.deepEqual(await query({ body: 'vendas do norte' }), ['Relatório trimestral']);
        assert.deepEqual(await query({ operator: 'AND', conditions: [{ subject: 'relat' }, { from: 'ufpb' }] }), ['Relatório trimestral']);
        assert.deepEqual(await query({ from: 'ufpb' }), ['Relatório trimestral', 'push via C', 'via C']);
        assert.deepEqual(await query({ body: 'norte vendas' }), [], 'both words are there, the phrase is not: the exact match decides');
        assert.deepEqual(await query({ text: 'mestral' }), ['Relatório trimestral'], 'inside a word, as on the files backend (trigrams)');
        assert.equal(existsSync(join(b.dataDir, 'search.sqlite')), false, 'no node-local index beside PostgreSQL');

        // load: round-robin over A, B, C, three at a time, each message also to a remote peer
        // that holds its replies, so every node holds leases on deliveries in flight; in the
        // middle of a round B is killed once it is seen holding leases
        far.hold = true;
        const rcpts = [...users, 'far@remote.example'];
        const accepted: string[] = [];
        const send = async (node: (typeof nodes)[number], subject: string): Promise<void> => {
          try {
            const r = await sendMail(node, 'helvecio@dsc.ufpb.br', rcpts, letter(subject));
            if (r.final?.startsWith('250')) accepted.push(subject);
          } catch {
            // the node died under this session: no 250, the client would retry elsewhere
          }
        };
        const bOwner = `%/${b.child!.pid!}`;
        const leasedByB = (): Promise<{ id: string; subject: string }[]> =>
          rows<{ id: string; subject: string }>(
            db.url,
            `SELECT e.id, substring(convert_from(qb.body, 'UTF8') from 'Subject: ([^\r\n]*)') AS subject
             FROM queue_envelopes e JOIN queue_messages m ON m.id = e.message_id JOIN queue_bodies qb ON qb.hash = m.body_hash
             WHERE e.lease_owner LIKE $1`,
            [bOwner],
          );
        let diedHolding: { id: string; subject: string }[] = [];
        let n = 0;
        for (let round = 0; round < 12; round++) {
          const live = round < 5 ? nodes : [a, c];
          const batch = live.map((node) => send(node, `load ${n++}`));
          if (round === 5) {
            // mid-flight: B dies while the sessions of this round and its deliveries run
            batch.push(
              (async () => {
                await waitFor('node B to hold leases', async () => ((await leasedByB()).length > 0) || undefined, 20_000);
                await b.kill9();
                diedHolding = await leasedByB(); // what it held when it died (the leases outlive it)
              })(),
            );
          }
          await Promise.all(batch);
        }
        assert.ok(accepted.length >= 15 + 2 * 7 - 1, `most messages accepted (${accepted.length})`);
        assert.ok(diedHolding.length > 0, 'the kill landed while B held leases');
        far.hold = false;

        await waitFor('the shared queue to drain', async () => (await scalar(db.url, 'SELECT count(*) AS n FROM queue_envelopes')) === 0 || undefined, 60_000);
        const missing: string[] = [];
        const twice: string[] = [];
        for (const u of users) {
          const seen = new Map<string, number>();
          for (const m of await a.messages(u)) {
            const s = /^Subject: (.*)$/m.exec(m)?.[1] ?? '?';
            seen.set(s, (seen.get(s) ?? 0) + 1);
          }
          for (const s of accepted) if (!seen.has(s)) missing.push(`${u} ${s}`);
          for (const [s, k] of seen) if (k > 1) twice.push(`${u} ${s} ×${k}`);
        }
        assert.deepEqual(missing, [], 'every message that got 250 reached every mailbox');
        assert.deepEqual(twice, [], 'no mailbox got a message twice');
        // the remote peer: every accepted message, B's leases taken over by A or C (B's own
        // transactions there never got their reply), duplicates at most the leases B held
        const atFar = new Map<string, number>();
        for (const s of far.subjects) atFar.set(s, (atFar.get(s) ?? 0) + 1);
        assert.deepEqual(accepted.filter((s) => !atFar.has(s)), [], 'every message that got 250 reached the remote peer');
        assert.deepEqual(diedHolding.filter((h) => h.subject.startsWith('load') && !atFar.has(h.subject)).map((h) => h.id), [], "B's leases were taken over");
        const extra = [...atFar.values()].reduce((x, k) => x + k - 1, 0);
        assert.ok(extra <= diedHolding.length, `duplicates at the remote peer (${extra}) at most the leases B held (${diedHolding.length})`);
      } finally {
        for (const cl of clients) cl.close();
        for (const node of started) await node.destroy();
        await far.close();
      }
    }));
});
