/**
 * @module policy-from-config
 * The SMTP policy a configuration describes: the one place where config keys become check
 * lists (buildSmtpPolicy does the lists; this maps the keys and the directory lookups).
 * Standards: see smtp-policy.ts.
 * Security: sender rules and relay control always come from the directory here; AUTH on the
 *   MX port only with `smtp.auth_on_mx = true`.
 * Limitations: none. `mail_auth.verify_inbound` adds the trust checks when `dns` is given, as
 *   `[abuse]` adds the DNS lists, and `[policy] rspamd_url` the content scan (rspamd.ts);
 *   greylisting needs the caller's `greylist` store.
 */
import type { DirectoryLookup, ListenMode } from '../core/index.js';
import type { Config } from '../config/index.js';
import { DirectorySenderOwnership } from './sender-rules.js';
import { buildSmtpPolicy, type AbuseChecks, type InboundCheck, type LookupAnswers, type StagePolicy } from './smtp-policy.js';
import { mergeVerdicts, rspamdScan } from './rspamd.js';
import { DnsList } from './dns-lists.js';
import type { GreylistStore } from './greylist.js';
import { startInbound, loadMailAuth, type RawLookup } from './trust/inbound.js';
import type { TxtLookup } from './trust/dmarc.js';
import type { DmarcEvaluation } from './trust/dmarc-report.js';
import type { DmarcFailure } from './trust/dmarc-failure.js';

export interface PolicyLookups {
  readonly directory: Pick<DirectoryLookup, 'isLocalDomain' | 'findAlias' | 'findList' | 'findRole'>;
  /** VRFY/EXPN answers for the clients allowed to ask */
  readonly answers?: LookupAnswers;
  /** the lookups of the SPF/DKIM/DMARC checks and DNS lists (dns/ on `delivery.dns_servers`); absent: no such checks */
  readonly dns?: { readonly lookup: RawLookup; readonly txt: TxtLookup };
  /** told each inbound DMARC evaluation whose record asks for aggregate reports */
  readonly dmarcReports?: (e: DmarcEvaluation) => void;
  /** told each inbound DMARC evaluation whose record asks for a failure report (`ruf`) */
  readonly dmarcFailures?: (f: DmarcFailure) => void;
  /** the greylisting triplets (`[abuse] greylist`), opened by the caller, which closes it */
  readonly greylist?: GreylistStore;
}

/** `[abuse]` as checks (smtp-policy.ts puts them on the MX listener). */
function abuseFromConfig(config: Config, lookups: PolicyLookups): AbuseChecks {
  const a = config.abuse;
  const lookup = lookups.dns?.lookup;
  return {
    ...(lookup && a.dnsbl.length > 0 ? { blocklist: new DnsList(a.dnsbl, lookup), blocklistAction: a.dnsblAction, blocklistAt: { stage: a.dnsblStage, allowRecipients: a.dnsblAllowRecipients } } : {}),
    ...(lookup && a.dnswl.length > 0 ? { allowlist: new DnsList(a.dnswl, lookup) } : {}),
    connectionsPerMinute: a.rateConnections,
    messagesPerMinute: a.rateMessages,
    recipientsPerMinute: a.rateRecipients,
    messagesPerUserPerMinute: a.rateMessagesPerUser,
    ...(a.greylist && lookups.greylist ? { greylist: { store: lookups.greylist, settings: { delay: a.greylistDelay, lifetime: a.greylistLifetime } } } : {}),
  };
}

export function smtpPolicyFromConfig(config: Config, lookups: PolicyLookups): Readonly<Record<ListenMode, StagePolicy>> {
  const s = config.smtp;
  const { directory } = lookups;
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
    abuse: abuseFromConfig(config, lookups),
    ...messageChecks(config, lookups),
  });
}

/**
 * The whole-message checks at end of data on the MX listeners: `mail_auth.verify_inbound`
 * (SPF, DKIM, DMARC) and `[policy] rspamd_url` (content scan), run together, one verdict.
 */
function messageChecks(config: Config, lookups: PolicyLookups): { inbound?: InboundCheck } {
  const a = config.mailAuth;
  const dns = lookups.dns;
  const settings = { authservId: config.hostname, dmarcReject: a.dmarcReject, temperror: a.temperror, dkimMinKeyBits: a.dkimMinKeyBits, trustedArcSealers: a.trustedArcSealers };
  const trust: InboundCheck | undefined =
    a.verifyInbound && dns
      ? (session, sender, header, start) => {
          const run = startInbound(settings, { ...dns, ...(lookups.dmarcReports ? { report: lookups.dmarcReports } : {}), ...(lookups.dmarcFailures ? { failure: lookups.dmarcFailures } : {}) }, session, sender, header, start);
          return { body: (chunk) => run.body(chunk), abort: () => run.abort(), finish: () => run.finish() };
        }
      : undefined;
  // loaded now rather than in the first message's time (a failure shows there as temperror)
  if (trust) loadMailAuth().catch(() => undefined);
  const p = config.policy;
  const rspamd = p.rspamdUrl;
  const scan: InboundCheck | undefined =
    rspamd !== undefined ? (session, sender) => rspamdScan({ url: rspamd, onFailure: p.rspamdFailure, timeoutMs: p.rspamdTimeout, hostname: config.hostname }, session, sender) : undefined;
  if (trust && scan) {
    return {
      inbound: (session, sender, header, start) => {
        const t = trust(session, sender, header, start);
        const r = scan(session, sender, header, start);
        return {
          body: (chunk) => t.body(chunk),
          abort: () => {
            t.abort();
            r.abort();
          },
          finish: async (message) => {
            const [tv, rv] = await Promise.all([t.finish(message), r.finish(message)]);
            return mergeVerdicts(tv, rv);
          },
        };
      },
    };
  }
  const one = trust ?? scan;
  return one ? { inbound: one } : {};
}
