/**
 * Issue 17: PostgreSQL goes away under a running node and comes back. The node reaches the
 * database through a TCP relay this test controls (real sockets to the real server), so
 * "down" is every connection cut and new ones refused, as when the server stops. While it is
 * down SMTP answers 4xx (451 4.3.0), never 5xx; nothing acknowledged before is lost; once it
 * is back the node accepts and delivers again by itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';
import { sendMail, startSite, waitFor } from '../helpers/site.js';

const skip = await pgUnavailable();

/** A TCP relay to PostgreSQL at 127.0.0.1:5432 that can be cut and restored on the same port. */
class Relay {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(5432, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

void describe('t-91 PostgreSQL outage under a running node', { skip }, () => {
  void test('451 while the database is away, nothing acknowledged lost, service back by itself', () =>
    withTestDatabase(async (db) => {
      const relay = new Relay();
      await relay.up();
      const url = new URL(db.url);
      url.port = String(relay.port);
      const site = await startSite({
        domains: ['dc.uece.br'],
        users: ['suzana@dc.uece.br'],
        tables: `[storage]\nurl = ${JSON.stringify(url.toString())}\nlease = "3s"\npoll_interval = "1s"\n[metrics]\nlisten = []\n[imap]\nlisten = []\n`,
      });
      try {
        const msg = (n: number): string => `From: helvecio@dsc.ufpb.br\nSubject: outage ${n}\n\nbody ${n}\n`;
        const first = await sendMail(site, 'helvecio@dsc.ufpb.br', ['suzana@dc.uece.br'], msg(1));
        assert.match(first.final ?? '', /^250/);
        await site.waitForMessages('suzana@dc.uece.br', 1);

        await relay.down();
        const during = await sendMail(site, 'helvecio@dsc.ufpb.br', ['suzana@dc.uece.br'], msg(2));
        // the directory lookup at RCPT or the commit at the end of data fails: temporary, never 5xx
        const refusal = during.final ?? during.rcpt[0];
        assert.match(refusal, /^451 4\.3\.0/, JSON.stringify(during));

        await relay.up();
        // the pools reconnect by themselves: mail is accepted and delivered again
        const after = await waitFor('a 250 after the database is back', async () => {
          const r = await sendMail(site, 'helvecio@dsc.ufpb.br', ['suzana@dc.uece.br'], msg(3));
          return r.final?.startsWith('250') ? r : undefined;
        }, 30_000);
        assert.match(after.final ?? '', /^250/);
        const box = await site.waitForMessages('suzana@dc.uece.br', 2, 30_000);
        const subjects = box.map((m) => /^Subject: (.*)$/m.exec(m)?.[1]).sort();
        assert.deepEqual(subjects, ['outage 1', 'outage 3'], 'what got 250 is delivered, once; the refused one is not');
      } finally {
        await site.destroy();
        await relay.down();
      }
    }));
});
