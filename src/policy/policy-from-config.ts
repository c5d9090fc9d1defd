/**
 * @module policy-from-config
 * The SMTP policy a configuration describes: the one place where config keys become check
 * lists (buildSmtpPolicy does the lists; this maps the keys and the directory lookups).
 * Standards: see smtp-policy.ts.
 * Security: sender rules and relay control always come from the directory here; AUTH on the
 *   MX port only with `smtp.auth_on_mx = true`.
 * Limitations: none. `mail_auth.verify_inbound` adds the trust checks when `dns` is given.
 */
import type { DirectoryLookup, ListenMode } from '../core/index.js';
import type { Config } from '../config/index.js';
import { DirectorySenderOwnership } from './sender-rules.js';
import { buildSmtpPolicy, type LookupAnswers, type StagePolicy } from './smtp-policy.js';
import { authenticateInbound, type RawLookup } from './trust/inbound.js';
import type { TxtLookup } from './trust/dmarc.js';

export interface PolicyLookups {
  readonly directory: Pick<DirectoryLookup, 'isLocalDomain' | 'findAlias' | 'findList' | 'findRole'>;
  /** VRFY/EXPN answers for the clients allowed to ask */
  readonly answers?: LookupAnswers;
  /** the lookups of the SPF/DKIM/DMARC checks (dns/ on `delivery.dns_servers`); absent: no checks */
  readonly dns?: { readonly lookup: RawLookup; readonly txt: TxtLookup };
}

export function smtpPolicyFromConfig(config: Config, lookups: PolicyLookups): Readonly<Record<ListenMode, StagePolicy>> {
  const s = config.smtp;
  const { directory, dns } = lookups;
  const a = config.mailAuth;
  const settings = { authservId: config.hostname, dmarcReject: a.dmarcReject, temperror: a.temperror, dkimMinKeyBits: a.dkimMinKeyBits };
  return buildSmtpPolicy({
    hostname: config.hostname,
    maxMessageSize: s.maxMessageSize,
    maxRecipients: s.maxRecipients,
    maxConnections: s.maxConnections,
    maxConnectionsPerIp: s.maxConnectionsPerIp,
    authOnMx: s.authOnMx,
    trustedNetworks: s.trustedNetworks,
    senderOwnership: new DirectorySenderOwnership(directory),
    isLocalDomain: (domain) => directory.isLocalDomain(domain),
    ...(lookups.answers ? { answers: lookups.answers } : {}),
    // mail_auth.verify_inbound: SPF, DKIM and DMARC at end of data on the MX listeners
    ...(a.verifyInbound && dns
      ? { inbound: (session, sender, message, header) => authenticateInbound(settings, dns, session, sender, message, header.fields) }
      : {}),
  });
}
