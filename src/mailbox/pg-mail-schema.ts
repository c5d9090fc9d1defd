/**
 * @module pg-mail-schema
 * The mailboxes' tables on PostgreSQL, as the versioned migrations of the "mailbox" component
 * (util/pg-database.ts applies them):
 * - mail_bodies: each distinct message content once, keyed by its SHA-256 (bytea, CRLF line
 *   ends), with its full-text vector (PostgreSQL's tsvector, "simple" configuration) under a
 *   GIN index; (version 2) a word vector for word-start searches, no longer written since
 *   version 5 keeps the text itself (grams) for JMAP text conditions;
 * - mail_folders: one row per folder of a user ("" is INBOX) with UIDVALIDITY, UIDNEXT and
 *   HIGHESTMODSEQ, (version 3) the special use given at CREATE and the first UID still
 *   \Recent (claimed by the first IMAP4rev1 session told of it); the row is the folder's lock (SELECT … FOR UPDATE), so UIDs and MODSEQs are
 *   handed out in commit order by any node;
 * - mail_messages: a message of a folder: UID, key, body, flags, keywords, MODSEQ, date;
 * - mail_expunged: the UIDs that left a folder and the MODSEQ at which they went (QRESYNC
 *   VANISHED, JMAP changes);
 * - mail_deliveries: (user, delivery key) taken once: a delivery repeated by any node, even
 *   after the first copy was moved or deleted, stores nothing;
 * - mail_subscriptions: LSUB/LIST (SUBSCRIBED) names, which need not exist as folders;
 * - (version 4) mail_threads and mail_thread_refs: the JMAP conversation index
 *   (pg-thread-index.ts), and mail_email_aliases: the Email ids kept across JMAP moves
 *   (pg-email-aliases.ts), so every node answers the same Thread and Email ids;
 * - (version 5) mail_bodies.grams: the body's text (search-words.ts) for JMAP text conditions,
 *   under a pg_trgm GIN index where the extension can be created (else unindexed), replacing
 *   the word vector of version 2, which is no longer written;
 * - (version 6) mail_bodies.body and .grams compressed with lz4 instead of pglz where
 *   PostgreSQL has it (14 and later, built with lz4): less of PostgreSQL's CPU per stored and
 *   read message; values stored before stay as they are (PostgreSQL reads both);
 * - (version 7) mail_body_chunks: a body over 1 MiB, streamed in as it arrives (pg-mail-body.ts),
 *   as rows of up to 1 MiB (lz4 where PostgreSQL has it) under the body's `chunk_key`, its
 *   mail_bodies row holding no octets; a trigger removes a body's chunks with it, and a partial
 *   unique index finds the body of a chunk (the sweep at open).
 * UIDVALIDITY comes from a sequence set to the epoch seconds at creation, so a folder created
 * again under an old name gets a new, greater value (RFC 9051 §2.3.1.1).
 * Standards: RFC 9051 §2.3.1.1; RFC 7162 §3.1 (MODSEQ), §3.2.10 (VANISHED).
 * Security: none (schema only).
 * Limitations: append a migration to change the schema; never edit one that shipped.
 */
import type { SchemaComponent } from '../util/index.js';

export const mailSchema: SchemaComponent = {
  name: 'mailbox',
  migrations: [
    {
      version: 1,
      name: 'bodies (content-addressed, full text), folders, messages, expunges, deliveries, subscriptions',
      sql: `CREATE SEQUENCE mail_uid_validity MAXVALUE 4294967295;
            SELECT setval('mail_uid_validity', greatest(1, extract(epoch FROM now())::bigint));
            CREATE TABLE mail_bodies (
              hash bytea PRIMARY KEY,
              size bigint NOT NULL,
              body bytea NOT NULL,
              search tsvector
            );
            CREATE INDEX mail_bodies_search ON mail_bodies USING gin (search);
            CREATE TABLE mail_folders (
              id bigserial PRIMARY KEY,
              owner text NOT NULL,
              name text NOT NULL,
              uid_validity bigint NOT NULL DEFAULT nextval('mail_uid_validity'),
              uid_next bigint NOT NULL DEFAULT 1,
              highest_modseq bigint NOT NULL DEFAULT 1,
              UNIQUE (owner, name)
            );
            CREATE TABLE mail_messages (
              folder_id bigint NOT NULL REFERENCES mail_folders (id) ON DELETE CASCADE,
              uid bigint NOT NULL,
              key text COLLATE "C" NOT NULL,
              body_hash bytea NOT NULL REFERENCES mail_bodies (hash),
              size bigint NOT NULL,
              flags text NOT NULL DEFAULT '',
              keywords text[] NOT NULL DEFAULT '{}',
              modseq bigint NOT NULL,
              received_at bigint NOT NULL,
              PRIMARY KEY (folder_id, uid),
              UNIQUE (folder_id, key)
            );
            CREATE INDEX mail_messages_modseq ON mail_messages (folder_id, modseq);
            CREATE INDEX mail_messages_body ON mail_messages (body_hash);
            CREATE TABLE mail_expunged (
              folder_id bigint NOT NULL REFERENCES mail_folders (id) ON DELETE CASCADE,
              uid bigint NOT NULL,
              modseq bigint NOT NULL,
              PRIMARY KEY (folder_id, uid)
            );
            CREATE INDEX mail_expunged_modseq ON mail_expunged (folder_id, modseq);
            CREATE TABLE mail_deliveries (
              owner text NOT NULL,
              unique_key text NOT NULL,
              key text NOT NULL,
              delivered_at timestamptz NOT NULL DEFAULT now(),
              PRIMARY KEY (owner, unique_key)
            );
            CREATE TABLE mail_subscriptions (
              owner text NOT NULL,
              name text NOT NULL,
              PRIMARY KEY (owner, name)
            );`,
    },
    {
      version: 2,
      name: 'word vector of each body for text conditions (search-words.ts)',
      // filled for bodies stored from now on; a body stored before has none and is a
      // candidate of every word search (the caller confirms each candidate)
      sql: `ALTER TABLE mail_bodies ADD COLUMN words tsvector;
            CREATE INDEX mail_bodies_words ON mail_bodies USING gin (words);`,
    },
    {
      version: 3,
      name: 'special use given at CREATE (RFC 6154) and the first \\Recent UID (RFC 3501 §2.3.2) per folder',
      sql: `ALTER TABLE mail_folders ADD COLUMN special_use text;
            ALTER TABLE mail_folders ADD COLUMN recent_from bigint NOT NULL DEFAULT 1;`,
    },
    {
      version: 4,
      name: 'JMAP conversation index and Email id aliases, shared by the nodes (RFC 8621 §3, §4.1.1)',
      sql: `CREATE TABLE mail_threads (
              account text NOT NULL,
              id text COLLATE "C" NOT NULL,
              thread text COLLATE "C" NOT NULL,
              gone bigint,
              PRIMARY KEY (account, id)
            );
            CREATE INDEX mail_threads_thread ON mail_threads (account, thread);
            CREATE TABLE mail_thread_refs (
              account text NOT NULL,
              msgid text COLLATE "C" NOT NULL,
              thread text COLLATE "C" NOT NULL,
              PRIMARY KEY (account, msgid)
            );
            CREATE INDEX mail_thread_refs_thread ON mail_thread_refs (account, thread);
            CREATE TABLE mail_email_aliases (
              account text NOT NULL,
              place text COLLATE "C" NOT NULL,
              id text COLLATE "C" NOT NULL,
              PRIMARY KEY (account, place)
            );`,
    },
    {
      version: 5,
      name: 'the text of each body for JMAP text conditions anywhere in a word, under a trigram index where pg_trgm can be had',
      // pg_trgm is in Debian's postgresql-15 and trusted (a database owner may create it); where
      // it cannot be created the column is still filled and searched, without an index (a scan
      // of the account's messages); the word vector of version 2 is no longer written
      sql: `DO $$ BEGIN
              CREATE EXTENSION IF NOT EXISTS pg_trgm;
            EXCEPTION WHEN OTHERS THEN
              RAISE NOTICE 'pg_trgm is not available (%): JMAP text conditions scan the account''s texts', SQLERRM;
            END $$;
            ALTER TABLE mail_bodies ADD COLUMN grams text;
            DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                CREATE INDEX mail_bodies_grams ON mail_bodies USING gin (grams gin_trgm_ops);
              END IF;
            END $$;`,
    },
    {
      version: 6,
      name: 'bodies and their text compressed with lz4 where PostgreSQL has it',
      // EXECUTE: PostgreSQL 13 does not know the syntax; a server built without lz4 refuses it
      // (as queue migration 4)
      sql: `DO $$
            BEGIN
              EXECUTE 'ALTER TABLE mail_bodies ALTER COLUMN body SET COMPRESSION lz4, ALTER COLUMN grams SET COMPRESSION lz4';
            EXCEPTION WHEN feature_not_supported OR syntax_error THEN
              NULL;
            END $$;`,
    },
    {
      version: 7,
      name: 'big bodies streamed in as chunk rows (mail_body_chunks)',
      // as queue migration 5, but compressed like the bodies (lz4): a mailbox keeps a message for
      // years, and a slice read decompresses its chunk only up to the slice; no foreign key to
      // mail_bodies (it would need a unique index on chunk_key that every small body would enter)
      sql: `ALTER TABLE mail_bodies ADD COLUMN chunk_key text COLLATE "C";
            CREATE UNIQUE INDEX mail_bodies_chunk_key ON mail_bodies (chunk_key) WHERE chunk_key IS NOT NULL;
            CREATE TABLE mail_body_chunks (
              chunk_key text COLLATE "C" NOT NULL,
              seq integer NOT NULL,
              data bytea NOT NULL,
              PRIMARY KEY (chunk_key, seq)
            );
            CREATE FUNCTION mail_body_gone() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              DELETE FROM mail_body_chunks WHERE chunk_key = OLD.chunk_key;
              RETURN NULL;
            END $$;
            CREATE TRIGGER mail_bodies_chunks_gone AFTER DELETE ON mail_bodies
              FOR EACH ROW WHEN (OLD.chunk_key IS NOT NULL) EXECUTE FUNCTION mail_body_gone();
            DO $$
            BEGIN
              EXECUTE 'ALTER TABLE mail_body_chunks ALTER COLUMN data SET COMPRESSION lz4';
            EXCEPTION WHEN feature_not_supported OR syntax_error THEN
              NULL;
            END $$;`,
    },
  ],
};
