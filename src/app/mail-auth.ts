/**
 * @module mail-auth
 * The wiring of `[mail_auth]` (docs/trust.md): the DNS lookups of the inbound checks, made on
 * `delivery.dns_servers` like every other lookup, and the DKIM signer with the keys under the
 * data directory.
 * Standards: see policy/trust.
 * Security: the signer signs only for domains with a key file under data_dir/dkim.
 * Limitations: keys are read when the intake is built (start and reload).
 */
import type { Config } from '../config/index.js';
import { formatListenAddress } from '../config/index.js';
import { DnsResolver } from '../dns/index.js';
import { DkimSigner, loadDkimKeys, type RawLookup, type TxtLookup } from '../policy/index.js';

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
