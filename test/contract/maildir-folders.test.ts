/**
 * The MailFolderStore contract run against the Maildir store (MaildirFolders over MaildirStore
 * in a temporary directory); `another` is a second MaildirStore/MaildirFolders pair on the same
 * directory, as a second process would open it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { mailFolderStoreContract } from './mail-folder-store.contract.js';

mailFolderStoreContract('Maildir', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-folders-contract-'));
  const open = (): { folders: MaildirFolders; mailbox: MaildirStore } => {
    const mailbox = new MaildirStore(root, { hostname: 'mx' });
    return { folders: new MaildirFolders(mailbox), mailbox };
  };
  return {
    ...open(),
    another: () => Promise.resolve(open()),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
