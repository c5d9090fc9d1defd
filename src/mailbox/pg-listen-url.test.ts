/**
 * `[storage] listen_url` (PgMailStoreOptions.listenUrl): the LISTEN session of the folder
 * notifier connects there, not to the pools' url — behind a transaction-pooling PgBouncer,
 * which cannot carry LISTEN, it goes straight to PostgreSQL. Here a TCP relay to PostgreSQL
 * stands for that separate address and sees which connections come through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { parseConfig } from '../config/index.js';
import { createTestDatabase, pgUnavailable } from '../../test/helpers/pg.js';
import { waitFor } from '../../test/helpers/site.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { PgMailStore } from './pg-mail-store.js';

const skip = await pgUnavailable();
const user = 'suzana@dc.uece.br';

void test('the notifier LISTENs through listen_url, the pools use url', { skip }, async () => {
  const db = await createTestDatabase();
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(5432, '127.0.0.1');
    const chunks: Buffer[] = [];
    seen.push('');
    const at = seen.length - 1;
    client.on('data', (b: Buffer) => {
      chunks.push(b);
      seen[at] = Buffer.concat(chunks).toString('latin1');
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  const listenUrl = new URL(db.url);
  listenUrl.host = `127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
  const writer = await PgMailStore.open(db.url, { maxConnections: 2 });
  const reader = await PgMailStore.open(db.url, { maxConnections: 2, listenUrl: listenUrl.href });
  try {
    let changes = 0;
    const stop = new PgMailFolders(reader).watch(user, 'INBOX', () => changes++);
    await waitFor('the LISTEN session', () => Promise.resolve(reader.notifier.listening || undefined), 10_000);
    await writer.deliver(user, Readable.from([Buffer.from('Subject: hi\r\n\r\nhello\r\n')]), { uniqueKey: 'l1' });
    await reader.list(user); // a pool query of the listening store: it must not use the relay
    await waitFor('the change announced through the listen_url session', () => Promise.resolve(changes > 0 || undefined), 10_000);
    stop();
    assert.equal(seen.length, 1, 'one connection came through listen_url');
    assert.match(seen[0], /LISTEN /, 'and it is the LISTEN session');
    assert.doesNotMatch(seen[0], /SELECT/, 'no pool query went that way');
  } finally {
    await writer.close();
    await reader.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => relay.close(() => r()));
    await db.drop();
  }
});

void test('listen_url needs postgres:// urls', () => {
  const base = 'hostname = "mx.example.org"\nlocal_domains = ["example.org"]\n';
  const c = parseConfig(`${base}[storage]\nurl = "postgres://db/correio"\nlisten_url = "postgres://db-direct:5432/correio"\n`);
  assert.equal(c.storage.listenUrl, 'postgres://db-direct:5432/correio');
  assert.throws(() => parseConfig(`${base}[storage]\nlisten_url = "postgres://db-direct/correio"\n`), /storage\.listen_url.*postgres/);
  assert.throws(() => parseConfig(`${base}[storage]\nurl = "postgres://db/correio"\nlisten_url = "file:"\n`), /storage\.listen_url/);
});
