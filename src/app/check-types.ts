/**
 * @module check-types
 * The shape of `correio check`'s checks (config-check.ts lists them; name-checks, listener-checks,
 * tls-checks and dkim-checks hold the larger ones): a check takes the configuration and a
 * directory snapshot and returns findings.
 * Standards: none.
 * Security: checks have no side effects.
 * Limitations: none.
 */
import type { Config } from '../config/index.js';
import type { DirectoryBackend } from '../directory/index.js';
import type { TxtResult } from '../dns/index.js';

export interface CheckFinding {
  readonly level: 'error' | 'warning';
  readonly message: string;
}

export interface CheckInput {
  readonly config: Config;
  readonly directory: DirectoryBackend;
  /** the line `correio serve` would print for a bind error (cli/os-errors); default: its message */
  readonly describeError?: (err: unknown) => string | undefined;
  /** TXT lookups for the DKIM records; default: delivery.dns_servers with a short timeout */
  readonly findTxt?: (name: string) => Promise<TxtResult>;
  /** the clock for certificate dates (ms since the epoch); default Date.now */
  readonly now?: () => number;
}

export type Check = (input: CheckInput) => Promise<CheckFinding[]>;
