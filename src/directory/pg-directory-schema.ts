/**
 * @module pg-directory-schema
 * The directory's tables on PostgreSQL, as versioned migrations of the "directory" component
 * (util/pg-database.ts applies them). The same shape as the SQLite schema: a lower-case
 * matching key beside the address as given; times in ms since the epoch.
 * Standards: none.
 * Security: none (schema only).
 * Limitations: append a migration to change the schema; never edit one that shipped.
 */
import type { SchemaComponent } from '../util/pg-database.js';

export const directorySchema: SchemaComponent = {
  name: 'directory',
  migrations: [
    {
      version: 1,
      name: 'domains, users, aliases, lists, roles',
      sql: `CREATE TABLE dir_domains (
              name text PRIMARY KEY,
              created_at bigint NOT NULL
            );
            CREATE TABLE dir_users (
              key text PRIMARY KEY,
              address text NOT NULL,
              name text,
              password_hash text,
              created_at bigint NOT NULL
            );
            CREATE TABLE dir_aliases (
              key text PRIMARY KEY,
              name text NOT NULL,
              targets text NOT NULL,
              source text NOT NULL DEFAULT 'directory',
              updated_at bigint NOT NULL
            );
            CREATE INDEX dir_aliases_source ON dir_aliases (source);
            CREATE TABLE dir_lists (
              key text PRIMARY KEY,
              address text NOT NULL,
              owner text NOT NULL,
              description text,
              created_at bigint NOT NULL
            );
            CREATE TABLE dir_list_members (
              id bigserial PRIMARY KEY,
              list_key text NOT NULL REFERENCES dir_lists (key) ON DELETE CASCADE,
              member_key text NOT NULL,
              member text NOT NULL,
              UNIQUE (list_key, member_key)
            );
            CREATE TABLE dir_roles (
              key text PRIMARY KEY,
              address text NOT NULL,
              holder text NOT NULL,
              description text,
              updated_at bigint NOT NULL
            );`,
    },
    {
      version: 2,
      name: 'user quotas and disabled accounts',
      sql: `ALTER TABLE dir_users ADD COLUMN quota_storage bigint;
            ALTER TABLE dir_users ADD COLUMN quota_messages bigint;
            ALTER TABLE dir_users ADD COLUMN disabled boolean NOT NULL DEFAULT false;`,
    },
    {
      version: 3,
      name: 'browser sessions of the web, shared by every node',
      sql: `CREATE TABLE web_sessions (
              hash bytea PRIMARY KEY,
              owner text NOT NULL,
              created_at bigint NOT NULL,
              expires_at bigint NOT NULL
            );
            CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);`,
    },
    {
      version: 4,
      name: 'DKIM signing keys, shared by every node (pg-dkim-keys.ts)',
      sql: `CREATE TABLE dkim_keys (
              domain text NOT NULL,
              selector text NOT NULL,
              algorithm text NOT NULL,
              private_key text NOT NULL,
              active boolean NOT NULL DEFAULT true,
              created_at timestamptz NOT NULL DEFAULT now(),
              PRIMARY KEY (domain, selector)
            );`,
    },
    {
      version: 5,
      name: 'generated secrets shared by every node (the SRS key; pg-shared-secret.ts)',
      sql: `CREATE TABLE shared_secrets (
              name text PRIMARY KEY,
              secret text NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now()
            );`,
    },
    {
      version: 6,
      name: 'API tokens, shared by every node (pg-token-store.ts)',
      sql: `CREATE TABLE api_tokens (
              id text PRIMARY KEY,
              hash bytea NOT NULL,
              owner text NOT NULL,
              scopes text NOT NULL,
              label text,
              created_at bigint NOT NULL,
              last_used_at bigint
            );
            CREATE INDEX api_tokens_owner ON api_tokens (owner);`,
    },
    {
      version: 7,
      name: 'HTTP submission Idempotency-Key answers, shared by every node (web/pg-idempotency-store.ts)',
      sql: `CREATE TABLE http_idempotency (
              key text PRIMARY KEY,
              digest text NOT NULL,
              at bigint NOT NULL,
              owner text NOT NULL,
              status integer,
              body text
            );
            CREATE INDEX http_idempotency_at ON http_idempotency (at);`,
    },
    {
      version: 8,
      name: 'the nodes holding Idempotency-Key claims, each alive until its heartbeat lapses (web/pg-idempotency-store.ts)',
      sql: `CREATE TABLE http_idempotency_nodes (
              owner text PRIMARY KEY,
              alive_until timestamptz NOT NULL
            );`,
    },
    {
      version: 9,
      name: 'every change to dir_domains notifies the nodes\' domain caches (pg-domain-cache.ts)',
      sql: `CREATE FUNCTION dir_domains_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('correio_domains', '');
              RETURN NULL;
            END $$;
            CREATE TRIGGER dir_domains_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dir_domains
              FOR EACH STATEMENT EXECUTE FUNCTION dir_domains_changed();`,
    },
    {
      version: 10,
      name: 'a user\'s own quota set or removed notifies the nodes\' caches (anyOwnQuota, pg-domain-cache.ts)',
      sql: `CREATE FUNCTION dir_quotas_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('correio_quotas', '');
              RETURN NULL;
            END $$;
            CREATE TRIGGER dir_quotas_inserted AFTER INSERT ON dir_users FOR EACH ROW
              WHEN (NEW.quota_storage IS NOT NULL OR NEW.quota_messages IS NOT NULL) EXECUTE FUNCTION dir_quotas_changed();
            CREATE TRIGGER dir_quotas_changed AFTER UPDATE OF quota_storage, quota_messages ON dir_users FOR EACH ROW
              WHEN (OLD.quota_storage IS DISTINCT FROM NEW.quota_storage OR OLD.quota_messages IS DISTINCT FROM NEW.quota_messages)
              EXECUTE FUNCTION dir_quotas_changed();
            CREATE INDEX dir_users_own_quota ON dir_users (key) WHERE quota_storage IS NOT NULL OR quota_messages IS NOT NULL;`,
    },
  ],
};
