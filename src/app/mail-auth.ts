/**
 * @module mail-auth
 * The wiring of `[mail_auth]` (docs/trust.md): the DNS lookups of the inbound checks, made on
 * `delivery.dns_servers` like every other lookup, the DKIM signer with the keys under the
 * data directory, and SRS with its secret (configured, or generated once into the data directory).
 * Standards: see policy/trust.
 * Security: the signer signs only for domains with a key file under data_dir/dkim. The generated
 *   SRS secret is 32 random octets in data_dir/srs-secret, mode 0600, created exclusively (two
 *   processes starting at once agree on the first one written).
 * Limitations: keys are read when the intake is built (start and reload) and, for the list
 *   sealer, at each reload.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { formatListenAddress } from '../config/index.js';
import { DnsResolver } from '../dns/index.js';
import type { ListSealer } from '../core/index.js';
import { ArcListSealer, DkimSigner, Srs, loadDkimKeys, type RawLookup, type TxtLookup } from '../policy/index.js';

/** The lookups of the SPF/DKIM/DMARC checks, on the configured servers (TXT answers cached). */
export function mailAuthDns(config: Config): { lookup: RawLookup; txt: TxtLookup } {
  const dns = new DnsResolver({ servers: config.delivery.dnsServers.map(formatListenAddress), cache: {} });
  return { lookup: dns.rawLookup, txt: (name) => dns.findTxt(name) };
}

/** The DKIM signer of a configuration, or undefined when signing is off or no key exists. */
export function dkimSignerFor(config: Config): DkimSigner | undefined {
  if (!config.mailAuth.dkimSign) return undefined;
  const { keys } = loadDkimKeys(config.dataDir);
  return keys.size > 0 ? new DkimSigner(keys) : undefined;
}

/** `[mail_auth] seal_lists`: the ARC/DKIM sealer of list copies, or undefined when off or keyless. */
export function listSealerFor(config: Config): ArcListSealer | undefined {
  return config.mailAuth.sealLists ? arcSealerFor(config) : undefined;
}

/** `[mail_auth] seal_forwards`: the ARC/DKIM sealer of mail an alias forwards to a remote target. */
export function forwardSealerFor(config: Config): ArcListSealer | undefined {
  return config.mailAuth.sealForwards ? arcSealerFor(config) : undefined;
}

/** The ARC set and DKIM signature of an intermediary's domain, or undefined when there is no key. */
function arcSealerFor(config: Config): ArcListSealer | undefined {
  const { keys } = loadDkimKeys(config.dataDir);
  if (keys.size === 0) return undefined;
  return new ArcListSealer({
    authservId: config.hostname,
    keys,
    signer: new DkimSigner(keys),
    lookup: mailAuthDns(config).lookup,
    minBitLength: config.mailAuth.dkimMinKeyBits,
  });
}

/**
 * The list sealer of `[mail_auth] seal_lists` whose keys are read again by `reload()` (SIGHUP,
 * `correio reload`): a key made with `correio dkim keygen` for a list's domain seals its copies
 * from then on, without a restart.
 */
export class ReloadableListSealer implements ListSealer {
  #current: ArcListSealer | undefined;

  constructor(private readonly config: Config) {
    this.#current = listSealerFor(config);
  }

  get enabled(): boolean {
    return this.#current !== undefined;
  }

  seal(domain: string, message: Buffer): Promise<readonly string[]> {
    return this.#current ? this.#current.seal(domain, message) : Promise.resolve([]);
  }

  /** Reads the keys under data_dir/dkim again; a failure keeps the sealer that was there. */
  reload(): void {
    this.#current = listSealerFor(this.config);
  }
}

/** `[mail_auth] srs`: the sender rewriter of forwarded mail, or undefined when off. */
export function srsFor(config: Config): Srs | undefined {
  const a = config.mailAuth;
  if (!a.srs) return undefined;
  return new Srs({
    // the first makes new addresses; older ones still reverse bounces to what they made
    secrets: [a.srsSecret ?? srsSecretFile(config.dataDir), ...a.srsOldSecrets],
    domain: a.srsDomain,
    maxAgeDays: Math.max(1, Math.round(a.srsMaxAge / 86_400_000)),
    keepDomains: config.localDomains,
  });
}

/** The secret kept in data_dir/srs-secret, written on first use (O_EXCL, 0600). */
function srsSecretFile(dataDir: string): string {
  const file = join(dataDir, 'srs-secret');
  try {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 16) throw new Error(`${file}: the SRS secret is shorter than 16 characters; remove the file to make a new one, or set mail_auth.srs_secret`);
  return secret;
}
