/**
 * @module admin-request
 * What the admin API's routes share: the parts they work on (AdminApiDeps, wired by app/) and
 * how they read a JSON request body (one sentence naming the field for bad input).
 * Standards: RFC 8259 (JSON); RFC 9110 §15.5.1 (400).
 * Security: a body must be a JSON object; fields are type-checked before use.
 * Limitations: none.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { WebEnv, WebPrincipal } from './http-auth.js';
import type { Directory, QueueControl, QueueStore, QuotaGate } from '../core/index.js';
import type { Config } from '../config/index.js';
import type { Explanation } from '../resolve/index.js';
import type { ActivityMinute } from '../log/index.js';
import type { KeyAlgorithm, SigningKey } from '../policy/index.js';
import { AdminError } from '../admin/index.js';

/** One finding of the config check (app/config-check.ts). */
export interface AdminCheckFinding {
  readonly level: 'error' | 'warning';
  readonly message: string;
}

/** What the admin API works on; app/ wires the running server's parts. */
export interface AdminApiDeps {
  readonly directory: Directory;
  /** the spool, read for listings and traces */
  readonly queue: QueueStore;
  /** the queue runner's actions (the same the control socket serves) */
  readonly control: QueueControl;
  /** the same actions told with who asked (the caller's login and token), for the log; absent: `control` */
  readonly controlAs?: (caller: { by: string; via: 'api'; token?: string }) => QueueControl;
  /** the configuration now in force */
  readonly config: () => Config;
  /** `correio resolve`: the expansion of an address by the server's resolver */
  readonly explain: (address: string) => Promise<Explanation>;
  /** `correio check` */
  readonly checkConfig: () => Promise<readonly AdminCheckFinding[]>;
  /** the DKIM keys where the configuration keeps them (app/dkim-keyring.ts): as they are now, and a new one made */
  readonly dkim: {
    keys(): Promise<ReadonlyMap<string, readonly SigningKey[]>>;
    /** an Error with a readable message when the key exists already */
    make(domain: string, selector: string, algorithm: KeyAlgorithm): Promise<{ name: string; value: string }>;
  };
  /** the last lines of the mail log, newest last (absent: the log tail answers 404) */
  readonly logTail?: (lines: number) => readonly string[];
  /** mail activity per minute, oldest first (absent: the activity answers 404) */
  readonly activity?: (minutes: number) => readonly ActivityMinute[];
  /**
   * admits admins only, answering 401/403 itself otherwise; absent when the HTTP server's
   * mount already requires the admin scope (app/web-services.ts)
   */
  readonly authorize?: MiddlewareHandler;
  /** mailbox quotas: a user's limits and usage (GET /users/{address}/quota); absent: limits only */
  readonly quota?: QuotaGate;
  /** where relative alias targets (/file, :include:) are read from; default: data_dir */
  readonly baseDir?: string;
  /** an unexpected error (logged by the caller) */
  readonly onError?: (err: unknown) => void;
}

/** Who is calling, for the log: the account's address, and the token's id when it came with one. */
export function callerOf(c: Context<WebEnv>): { by: string; via: 'api'; token?: string } {
  const p = c.get('principal') as WebPrincipal | undefined;
  return { by: p?.address ?? 'unknown', via: 'api', ...(p?.tokenId !== undefined && { token: p.tokenId }) };
}

/** A JSON object body, or AdminError. */
export async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AdminError('the request body must be a JSON object');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AdminError('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A string field of a body: required unless `optional`. */
export function stringField(body: Record<string, unknown>, key: string, optional: true): string | undefined;
export function stringField(body: Record<string, unknown>, key: string, optional?: false): string;
export function stringField(body: Record<string, unknown>, key: string, optional = false): string | undefined {
  const v = body[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new AdminError(`"${key}" must be a string${optional ? ' when given' : ''}`);
  return v;
}

/** An array-of-strings field of a body (required, non-empty). */
export function stringsField(body: Record<string, unknown>, key: string): string[] {
  const v = body[key];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new AdminError(`"${key}" must be a non-empty array of strings`);
  return v;
}

