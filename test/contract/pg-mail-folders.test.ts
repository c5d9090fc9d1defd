/**
 * The MailFolderStore contract run against the PostgreSQL mailboxes (PgMailFolders over
 * PgMailStore) in a database of its own; `another` is a second store on the same database, as
 * a second node would open it. It runs twice: as configured by default, and with every body
 * over 16 octets streamed into chunk rows (pg-mail-body.ts), so each case also runs on the
 * streamed path.
 */
import { test } from 'node:test';
import { PgMailFolders, PgMailStore } from '../../src/mailbox/index.js';
import { createTestDatabase, pgUnavailable } from '../helpers/pg.js';
import { mailFolderStoreContract } from './mail-folder-store.contract.js';

const skip = await pgUnavailable();

if (skip) {
  void test('MailFolderStore contract: PostgreSQL', (t) => t.skip(skip));
} else {
  for (const [name, chunkSize] of [['PostgreSQL', undefined], ['PostgreSQL, bodies streamed in chunks of 16 octets', 16]] as const) {
    mailFolderStoreContract(name, async () => {
      const db = await createTestDatabase();
      const stores: PgMailStore[] = [];
      const open = async (): Promise<{ folders: PgMailFolders; mailbox: PgMailStore }> => {
        const mailbox = await PgMailStore.open(db.url, { maxConnections: 3, ...(chunkSize !== undefined && { chunkSize }) });
        stores.push(mailbox);
        return { folders: new PgMailFolders(mailbox), mailbox };
      };
      return {
        ...(await open()),
        another: open,
        cleanup: async () => {
          for (const s of stores) await s.close();
          await db.drop();
        },
      };
    });
  }
}
