/**
 * @module pg-queue-schema
 * The queue's tables on PostgreSQL, as the versioned migrations of the "queue" component
 * (util/pg-database.ts applies them):
 * - queue_bodies: each distinct body once, keyed by its SHA-256 (content-addressed, bytea);
 * - queue_messages: a message names its body; it goes with its last envelope, and a body
 *   with its last message;
 * - queue_envelopes: one row per recipient, the envelope whole as jsonb (fields storage does
 *   not know survive), and its lease: owner, expiry and fencing token (a sequence, so a
 *   token is never reused).
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
  ],
};
