/**
 * @module storage-checks
 * `correio check`'s finding about shared storage: whether the LISTEN session's url
 * ([storage] listen_url, else url) carries notifications. A LISTEN through a transaction-pooling
 * PgBouncer hears nothing and fails no query, so a node would run without IDLE and JMAP push of
 * other nodes' changes and with local domains learnt late, and never say so (docs/scale.md):
 * the check LISTENs there on a channel of its own, NOTIFYs it through a second connection and
 * warns when nothing arrives within 3 s.
 * Standards: PostgreSQL LISTEN/NOTIFY.
 * Security: the finding names the setting, never the url (it may carry a password); the probe
 *   writes nothing (a notification on its own channel).
 * Limitations: a database that cannot be reached is not this check's finding (the directory's
 *   is); a NOTIFY slower than 3 s would be reported as not heard.
 */
import { isPostgresUrl, listenHears } from '../util/index.js';
import type { Check } from './check-types.js';

export const checkListenSession: Check = async ({ config }) => {
  if (!isPostgresUrl(config.storage.url)) return [];
  const setting = config.storage.listenUrl !== undefined ? 'storage.listen_url' : 'storage.url';
  if ((await listenHears(config.storage.listenUrl ?? config.storage.url, 3000)) !== false) return [];
  return [{
    level: 'warning',
    message:
      `${setting}: a LISTEN there does not hear a NOTIFY sent through another connection (a transaction-pooling PgBouncer drops them): ` +
      'IDLE and JMAP push would not hear of changes made through other nodes, and local domains added elsewhere would be learnt only at the 30 s reread; ' +
      'set [storage] listen_url to a direct url of PostgreSQL (docs/scale.md)',
  }];
};
