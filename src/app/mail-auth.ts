/**
 * @module mail-auth
 * The wiring of `[mail_auth]` (docs/trust.md): the DNS lookups of the inbound checks, made on
 * `delivery.dns_servers` like every other lookup, the DKIM signer and ARC sealers over the
 * process's keys (dkim-keyring.ts: data_dir/dkim, or PostgreSQL's dkim_keys), and SRS with its
 * secret (configured, or generated once: into the data directory, or on PostgreSQL storage
 * into the database for every node).
 * Standards: see policy/trust.
 * Security: the signer signs only for domains with a key. The generated
 *   SRS secret is 32 random octets in data_dir/srs-secret, mode 0600, created exclusively (two
 *   processes starting at once agree on the first one written); on PostgreSQL storage it is
 *   the row `srs` of shared_secrets (pg-shared-secret.ts), so a bounce to a forward made by
 *   any node reverses on every node.
 * Limitations: the keys are the keyring's: read at start and reload, and on PostgreSQL every
 *   few seconds. The SRS secret is read at start and reload.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { formatListenAddress } from '../config/index.js';
import { pgSharedSecret } from '../directory/index.js';
import { isPostgresUrl } from '../util/index.js';
import { DnsResolver } from '../dns/index.js';
import type { ListSealer, SealRun } from '../core/index.js';
import { ArcListSealer, DkimSigner, Srs, type RawLookup, type SigningKey, type TxtLookup } from '../policy/index.js';

/** The lookups of the SPF/DKIM/DMARC checks, on the configured servers (TXT answers cached). */
export function mailAuthDns(config: Config): { lookup: RawLookup; txt: TxtLookup } {
  const dns = new DnsResolver({ servers: config.delivery.dnsServers.map(formatListenAddress), cache: {} });
  return { lookup: dns.rawLookup, txt: (name) => dns.findTxt(name) };
}

/** The keys a process signs and seals with: the live map of its DkimKeyring (dkim-keyring.ts). */
export type LiveKeys = ReadonlyMap<string, readonly SigningKey[]>;

/**
 * The DKIM signer over the process's keys, or undefined when signing is off. It signs only
 * while a key of the From domain is there (DkimSigner.applies), so a key that appears later
 * (a reload; on PostgreSQL, one made on another node) signs from then on.
 */
export function dkimSignerFor(config: Config, keys: LiveKeys): DkimSigner | undefined {
  return config.mailAuth.dkimSign ? new DkimSigner(keys) : undefined;
}

/** `[mail_auth] seal_lists`: the ARC/DKIM sealer of list copies, or undefined when off. */
export function listSealerFor(config: Config, keys: LiveKeys): ListSealer | undefined {
  return config.mailAuth.sealLists ? new KeyedSealer(config, keys) : undefined;
}

/** `[mail_auth] seal_forwards`: the ARC/DKIM sealer of mail an alias forwards to a remote target. */
export function forwardSealerFor(config: Config, keys: LiveKeys): ListSealer | undefined {
  return config.mailAuth.sealForwards ? new KeyedSealer(config, keys) : undefined;
}

/**
 * The ARC set and DKIM signature of an intermediary's domain over the live keys: `enabled`
 * while any key is there (without one nothing is hashed for it), so a key made for a
 * list's domain seals its copies from the next reload (on PostgreSQL: the next refresh) on.
 */
class KeyedSealer implements ListSealer {
  readonly #sealer: ArcListSealer;

  constructor(
    config: Config,
    private readonly keys: LiveKeys,
  ) {
    this.#sealer = new ArcListSealer({
      authservId: config.hostname,
      keys,
      lookup: mailAuthDns(config).lookup,
      minBitLength: config.mailAuth.dkimMinKeyBits,
    });
  }

  get enabled(): boolean {
    return this.keys.size > 0;
  }

  start(domain: string, start: Buffer): SealRun {
    return this.#sealer.start(domain, start);
  }
}

/**
 * `[mail_auth] srs`: the sender rewriter of forwarded mail, or undefined when off. Without
 * `srs_secret`, the generated one: PostgreSQL's on shared storage, else data_dir's file.
 */
export async function srsFor(config: Config): Promise<Srs | undefined> {
  const a = config.mailAuth;
  if (!a.srs) return undefined;
  const secret = a.srsSecret ?? (isPostgresUrl(config.storage.url) ? await pgSharedSecret(config.storage.url, 'srs') : srsSecretFile(config.dataDir));
  return new Srs({
    // the first makes new addresses; older ones still reverse bounces to what they made
    secrets: [secret, ...a.srsOldSecrets],
    domain: a.srsDomain,
    maxAgeDays: Math.max(1, Math.round(a.srsMaxAge / 86_400_000)),
    keepDomains: config.localDomains,
  });
}

/** Where a files site keeps its generated SRS secret. */
export const srsSecretPath = (dataDir: string): string => join(dataDir, 'srs-secret');

/** The secret kept in data_dir/srs-secret, written on first use (O_EXCL, 0600). */
function srsSecretFile(dataDir: string): string {
  const file = srsSecretPath(dataDir);
  try {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 16) throw new Error(`${file}: the SRS secret is shorter than 16 characters; remove the file to make a new one, or set mail_auth.srs_secret`);
  return secret;
}
