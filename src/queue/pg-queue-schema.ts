/**
 * @module pg-queue-schema
 * The queue's tables on PostgreSQL, as the versioned migrations of the "queue" component
 * (util/pg-database.ts applies them):
 * - queue_bodies: each distinct body once, keyed by its SHA-256 (content-addressed, bytea);
 * - queue_messages: a message names its body; it goes with its last envelope, and a body
 *   with its last message;
 * - queue_envelopes: one row per recipient, the envelope whole as jsonb (fields storage does
 *   not know survive), and its lease: owner, expiry and fencing token (a sequence, so a
 *   token is never reused);
 * - (version 2) changed_xid and queue_gone: what changed and what left, by transaction id, for
 *   incremental rescans (PgEnvelopeLeases.changesSince);
 * - (version 3) queue_route_slots: the slots of each route's connection limit, held by nodes
 *   under an expiry (PgEnvelopeLeases.routeSlot);
 * - (version 4) bodies compressed with lz4 instead of pglz where PostgreSQL has it (14 and later,
 *   built with lz4): less of PostgreSQL's CPU per accepted message; bodies stored before stay
 *   as they are, and PostgreSQL reads both;
 * - (version 5) queue_body_chunks: a body over 1 MiB, streamed in as it arrives
 *   (pg-streamed-body.ts), as rows of up to 1 MiB (uncompressed, read in slices) under the
 *   body's `chunk_key` (its message id), the body row itself holding no octets; a trigger removes a body's chunks with
 *   it, and a partial index finds the body of a chunk (the sweep at open).
 * Ids sort byte-wise (COLLATE "C"): they are base32 and oldest-first in that order.
 * Standards: none.
 * Security: none (schema only).
 * Limitations: append a migration to change the schema; never edit one that shipped.
 */
import type { SchemaComponent } from '../util/index.js';

export const queueSchema: SchemaComponent = {
  name: 'queue',
  migrations: [
    {
      version: 1,
      name: 'bodies (content-addressed), messages, envelopes with leases',
      sql: `CREATE TABLE queue_bodies (
              hash bytea PRIMARY KEY,
              size bigint NOT NULL,
              body bytea NOT NULL
            );
            CREATE TABLE queue_messages (
              id text COLLATE "C" PRIMARY KEY,
              body_hash bytea NOT NULL REFERENCES queue_bodies (hash),
              size bigint NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX queue_messages_body ON queue_messages (body_hash);
            CREATE TABLE queue_envelopes (
              id text COLLATE "C" PRIMARY KEY,
              message_id text COLLATE "C" NOT NULL REFERENCES queue_messages (id),
              seq integer NOT NULL,
              data jsonb NOT NULL,
              next_attempt_at bigint NOT NULL,
              lease_owner text,
              lease_until timestamptz,
              lease_token bigint
            );
            CREATE INDEX queue_envelopes_message ON queue_envelopes (message_id, seq);
            CREATE SEQUENCE queue_lease_tokens;`,
    },
    {
      version: 2,
      name: 'change records for incremental rescans (changed_xid, queue_gone)',
      // the transaction id of the last change of an envelope's content (not of its lease), and
      // a record of each envelope that left: a node reads only what changed since its last
      // rescan (pg_snapshot_xmin of that rescan, so a change committed later is never missed)
      sql: `ALTER TABLE queue_envelopes ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
            CREATE INDEX queue_envelopes_changed ON queue_envelopes (changed_xid);
            CREATE INDEX queue_envelopes_lease ON queue_envelopes (lease_until) WHERE lease_until IS NOT NULL;
            CREATE TABLE queue_gone (
              id text COLLATE "C" NOT NULL,
              gone_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
              gone_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX queue_gone_xid ON queue_gone (gone_xid);
            CREATE FUNCTION queue_envelope_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.data IS DISTINCT FROM OLD.data OR NEW.next_attempt_at IS DISTINCT FROM OLD.next_attempt_at THEN
                NEW.changed_xid := pg_current_xact_id();
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER queue_envelopes_changed BEFORE UPDATE ON queue_envelopes
              FOR EACH ROW EXECUTE FUNCTION queue_envelope_changed();
            CREATE FUNCTION queue_envelope_gone() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO queue_gone (id) VALUES (OLD.id);
              RETURN NULL;
            END $$;
            CREATE TRIGGER queue_envelopes_gone AFTER DELETE ON queue_envelopes
              FOR EACH ROW EXECUTE FUNCTION queue_envelope_gone();`,
    },
    {
      version: 3,
      name: 'route slots: per-destination connection limits across nodes',
      // a row is one of a route's `limit` slots, held by a node until `until` (renewed by the
      // leases' heartbeat): a dead node's slots come back when they run out
      sql: `CREATE TABLE queue_route_slots (
              route text COLLATE "C" NOT NULL,
              slot integer NOT NULL,
              owner text NOT NULL,
              token bigint NOT NULL,
              until timestamptz NOT NULL,
              PRIMARY KEY (route, slot)
            );`,
    },
    {
      version: 4,
      name: 'bodies compressed with lz4 where PostgreSQL has it',
      // EXECUTE: PostgreSQL 13 does not know the syntax; a server built without lz4 refuses it
      sql: `DO $$
            BEGIN
              EXECUTE 'ALTER TABLE queue_bodies ALTER COLUMN body SET COMPRESSION lz4';
            EXCEPTION WHEN feature_not_supported OR syntax_error THEN
              NULL;
            END $$;`,
    },
    {
      version: 5,
      name: 'big bodies streamed in as chunk rows (queue_body_chunks)',
      // STORAGE EXTERNAL: not compressed, so a slice of a chunk (substring) reads only the TOAST
      // rows it needs, where a compressed one would be fetched whole for every slice; no
      // foreign key to queue_bodies: it would need a unique index on chunk_key that every
      // small body (chunk_key NULL) would enter; the partial index and the trigger cost a small
      // body nothing
      sql: `ALTER TABLE queue_bodies ADD COLUMN chunk_key text COLLATE "C";
            CREATE UNIQUE INDEX queue_bodies_chunk_key ON queue_bodies (chunk_key) WHERE chunk_key IS NOT NULL;
            CREATE TABLE queue_body_chunks (
              chunk_key text COLLATE "C" NOT NULL,
              seq integer NOT NULL,
              data bytea NOT NULL,
              PRIMARY KEY (chunk_key, seq)
            );
            CREATE FUNCTION queue_body_gone() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              DELETE FROM queue_body_chunks WHERE chunk_key = OLD.chunk_key;
              RETURN NULL;
            END $$;
            CREATE TRIGGER queue_bodies_chunks_gone AFTER DELETE ON queue_bodies
              FOR EACH ROW WHEN (OLD.chunk_key IS NOT NULL) EXECUTE FUNCTION queue_body_gone();
            ALTER TABLE queue_body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;`,
    },
  ],
};
