/**
 * @module smtp-policy
 * The policy of one SMTP listener: a list of named checks per stage (connect, helo, mail, rcpt,
 * data, end of data, and the VRFY/EXPN lookups), run in order, the first refusal answering. The
 * lists for every listener are built in one place, buildSmtpPolicy, from plain settings (and
 * smtpPolicyFromConfig from the configuration).
 * Standards: RFC 5321 §3.3 (stages), §3.5 (VRFY/EXPN); RFC 6409 §4.3, §6.1 (submission);
 *   see checks.ts for each check.
 * Security: every listener gets relay control and the sender rules (when their lookups are
 *   given); the submission listeners also need AUTH before MAIL. AUTH is offered on the MX port
 *   only when `authOnMx` says so, and then the same sender rules bind it.
 * Limitations: the lists are values: a reload (app/reload.ts) builds new ones for new sessions,
 *   and a session keeps the lists it started with.
 */
import { replies, type ListenMode, type MessageCheck, type MessageCheckRun, type MessageHeader, type ReversePath, type SenderOwnership, type SessionInfo, type SmtpReply } from '../core/index.js';
import { CidrList } from '../address/index.js';
import { firstRefusal, type Check } from './check.js';
import {
  authenticationRequired,
  clientConnectionLimit,
  connectionLimit,
  declaredSize,
  envelopeSenderOwned,
  fromHeaderOwned,
  lookupOnlyForKnownClients,
  recipientLimit,
  relayControl,
  type ConnectFacts,
  type DataFacts,
  type EndOfDataFacts,
  type HeloFacts,
  type LookupFacts,
  type MailFacts,
  type RcptFacts,
} from './checks.js';
import { SenderRules } from './sender-rules.js';
import { dnsBlocklist, dnsBlocklistAtRcpt, type DnsList } from './dns-lists.js';
import { connectionRate, messageRate, recipientRate, userMessageRate } from './rate-limits.js';
import { greylisting, type GreylistSettings, type GreylistStore } from './greylist.js';

/** What answers VRFY and EXPN for clients the policy lets ask (e.g. MailboxVerifier). */
export interface LookupAnswers {
  readonly vrfy?: (session: SessionInfo, argument: string) => Promise<SmtpReply>;
  readonly expn?: (session: SessionInfo, argument: string) => Promise<SmtpReply>;
}

/** The end-of-data checks on the message as it streams by (policy/trust/inbound.ts: SPF, DKIM, DMARC; rspamd). */
export type InboundCheck = (session: SessionInfo, sender: ReversePath, header: MessageHeader, start: Buffer) => MessageCheckRun;

export interface StageLists {
  readonly connect: readonly Check<ConnectFacts>[];
  readonly helo: readonly Check<HeloFacts>[];
  readonly mail: readonly Check<MailFacts>[];
  readonly rcpt: readonly Check<RcptFacts>[];
  readonly data: readonly Check<DataFacts>[];
  readonly endOfData: readonly Check<EndOfDataFacts>[];
  readonly vrfy: readonly Check<LookupFacts>[];
  readonly expn: readonly Check<LookupFacts>[];
}

export interface StagePolicyInit {
  readonly mode: ListenMode;
  /** whether this listener offers AUTH at all (RFC 4954; the MX port only with auth_on_mx) */
  readonly offersAuth: boolean;
  /** clients that may relay without AUTH (SessionInfo.mayRelay) */
  readonly trusted: CidrList;
  readonly lists: StageLists;
  readonly answers?: LookupAnswers;
  /** SPF/DKIM/DMARC at end of data (MX only), for clients that may not relay */
  readonly inbound?: InboundCheck;
}

/** One listener's checks. Each stage returns the first refusal, or undefined to go on. */
export class StagePolicy {
  readonly mode: ListenMode;
  readonly offersAuth: boolean;
  /** trusted networks: a session from one of them may relay (relay-control, VRFY/EXPN) */
  readonly trusted: CidrList;
  private readonly lists: StageLists;
  private readonly answers: LookupAnswers;
  private readonly inbound?: InboundCheck;

  constructor(init: StagePolicyInit) {
    if (init.inbound) this.inbound = init.inbound;
    this.mode = init.mode;
    this.offersAuth = init.offersAuth;
    this.trusted = init.trusted;
    this.lists = init.lists;
    this.answers = init.answers ?? {};
  }

  connect(f: ConnectFacts): Promise<SmtpReply | undefined> {
    return firstRefusal(this.lists.connect, f);
  }
  helo(f: HeloFacts): Promise<SmtpReply | undefined> {
    return firstRefusal(this.lists.helo, f);
  }
  mail(f: MailFacts): Promise<SmtpReply | undefined> {
    return firstRefusal(this.lists.mail, f);
  }
  rcpt(f: RcptFacts): Promise<SmtpReply | undefined> {
    return firstRefusal(this.lists.rcpt, f);
  }
  data(f: DataFacts): Promise<SmtpReply | undefined> {
    return firstRefusal(this.lists.data, f);
  }
  endOfData(f: EndOfDataFacts): Promise<SmtpReply | undefined> {
    return firstRefusal(this.lists.endOfData, f);
  }

  /**
   * The whole-message check of end of data for this session's transaction, or undefined: only
   * clients that may not relay (not authenticated, not in trusted_networks) are judged.
   */
  messageCheck(session: SessionInfo, sender: ReversePath): MessageCheck | undefined {
    const inbound = this.inbound;
    if (!inbound || session.mayRelay) return undefined;
    return (header, start) => inbound(session, sender, header, start);
  }

  /** RFC 5321 §3.5.1: the reply to VRFY (252 when there is no answer to give). */
  async vrfy(session: SessionInfo, argument: string): Promise<SmtpReply> {
    if (argument === '') return replies.syntaxError();
    const f = { session, argument };
    return (await firstRefusal(this.lists.vrfy, f)) ?? (await this.answers.vrfy?.(session, argument)) ?? replies.cannotVerify();
  }

  /** RFC 5321 §3.5.2, §7.3: the reply to EXPN (502 when this site does not answer EXPN). */
  async expn(session: SessionInfo, argument: string): Promise<SmtpReply> {
    if (!this.answers.expn) return replies.notImplemented();
    if (argument === '') return replies.syntaxError();
    return (await firstRefusal(this.lists.expn, { session, argument })) ?? (await this.answers.expn(session, argument));
  }

  /** The check names of each stage, in order (for docs and tests). */
  names(): Record<keyof StageLists, string[]> {
    const l = this.lists;
    const n = (cs: readonly { name: string }[]): string[] => cs.map((c) => c.name);
    return {
      connect: n(l.connect), helo: n(l.helo), mail: n(l.mail), rcpt: n(l.rcpt), data: n(l.data),
      endOfData: n(l.endOfData), vrfy: n(l.vrfy), expn: n(l.expn),
    };
  }
}

export interface SmtpPolicyOptions {
  /** our name, in 421 replies */
  readonly hostname: string;
  /** octets: a larger declared SIZE is refused at MAIL */
  readonly maxMessageSize: number;
  /** recipients per transaction (at least 100 are taken whatever this says) */
  readonly maxRecipients: number;
  /** open connections in all; absent: no limit here */
  readonly maxConnections?: number;
  /** open connections per client address; absent: no limit here */
  readonly maxConnectionsPerIp?: number;
  /** submission listeners need AUTH before MAIL (RFC 6409 §4.3). Default true. */
  readonly authRequired?: boolean;
  /** offer AUTH on the MX port as well (`smtp.auth_on_mx`). Default false. */
  readonly authOnMx?: boolean;
  /** CIDR blocks whose clients may relay without AUTH (`smtp.trusted_networks`). Default none. */
  readonly trustedNetworks?: readonly string[];
  /** who owns which address: enables the sender rules for authenticated sessions */
  readonly senderOwnership?: SenderOwnership;
  /** enables relay control at RCPT, the one place relay rights are judged; absent: none (sendmail -bs, test servers) */
  readonly isLocalDomain?: (domain: string) => Promise<boolean>;
  /** VRFY/EXPN answers for clients allowed to ask; absent: 252 and 502 for everyone */
  readonly answers?: LookupAnswers;
  /** SPF, DKIM and DMARC at end of data on the MX listener (`mail_auth.verify_inbound`) */
  readonly inbound?: InboundCheck;
  /** abuse defence of the MX listener (`[abuse]`): DNS lists, rate limits, greylisting */
  readonly abuse?: AbuseChecks;
}

/** The MX listener's abuse checks; each is off when its setting is absent (or 0). */
export interface AbuseChecks {
  readonly blocklist?: DnsList;
  readonly blocklistAction?: 'reject' | 'defer';
  /** refuse a listed client at connect (default) or its recipients at RCPT, but these local parts */
  readonly blocklistAt?: { readonly stage: 'connect' | 'rcpt'; readonly allowRecipients: readonly string[] };
  readonly allowlist?: DnsList;
  readonly connectionsPerMinute?: number;
  readonly messagesPerMinute?: number;
  readonly recipientsPerMinute?: number;
  /** MAIL commands a minute per authenticated user, on every port but LMTP */
  readonly messagesPerUserPerMinute?: number;
  readonly greylist?: { readonly store: GreylistStore; readonly settings: GreylistSettings };
}

/** The abuse checks of each stage of the MX listener, in the order they run. */
function abuseLists(a: AbuseChecks | undefined, hostname: string): Pick<StageLists, 'connect' | 'mail' | 'rcpt'> {
  if (!a) return { connect: [], mail: [], rcpt: [] };
  const allow = a.allowlist && !a.allowlist.empty ? a.allowlist : undefined;
  const block = a.blocklist && !a.blocklist.empty ? a.blocklist : undefined;
  const action = a.blocklistAction ?? 'reject';
  const atRcpt = a.blocklistAt?.stage === 'rcpt';
  return {
    connect: [
      ...(a.connectionsPerMinute ? [connectionRate(a.connectionsPerMinute, hostname, allow)] : []),
      ...(block && !atRcpt ? [dnsBlocklist(block, allow, action)] : []),
    ],
    mail: a.messagesPerMinute ? [messageRate(a.messagesPerMinute, allow)] : [],
    rcpt: [
      ...(block && atRcpt ? [dnsBlocklistAtRcpt(block, allow, action, a.blocklistAt?.allowRecipients ?? [])] : []),
      ...(a.recipientsPerMinute ? [recipientRate(a.recipientsPerMinute, allow)] : []),
      ...(a.greylist ? [greylisting(a.greylist.store, a.greylist.settings, allow)] : []),
    ],
  };
}

/**
 * The checks of every listener mode, built in one place. Throws when a trusted network is not
 * a valid CIDR block.
 */
export function buildSmtpPolicy(o: SmtpPolicyOptions): Readonly<Record<ListenMode, StagePolicy>> {
  const rules = o.senderOwnership ? new SenderRules(o.senderOwnership) : undefined;
  const trusted = new CidrList(o.trustedNetworks ?? []);
  const userRate = o.abuse?.messagesPerUserPerMinute ? userMessageRate(o.abuse.messagesPerUserPerMinute) : undefined;
  const build = (mode: ListenMode): StagePolicy => {
    const submission = mode === 'submission' || mode === 'submissions';
    // abuse defence is for the MX port: submission clients authenticate, LMTP clients are ours
    const abuse = abuseLists(mode === 'mx' ? o.abuse : undefined, o.hostname);
    // one counter per user for every port: a user is one sender wherever they log in
    const perUser = mode !== 'lmtp' && userRate ? [userRate] : [];
    const lists: StageLists = {
      connect: [
        ...(o.maxConnections !== undefined ? [connectionLimit(o.maxConnections, o.hostname)] : []),
        ...(o.maxConnectionsPerIp !== undefined ? [clientConnectionLimit(o.maxConnectionsPerIp, o.hostname)] : []),
        ...abuse.connect,
      ],
      helo: [],
      mail: [
        ...(submission && (o.authRequired ?? true) ? [authenticationRequired()] : []),
        declaredSize(o.maxMessageSize),
        // the same rule on every port: an authenticated session is bound wherever it logged in
        ...(rules ? [envelopeSenderOwned(rules)] : []),
        ...abuse.mail,
        ...perUser,
      ],
      // LMTP sessions never relay (SessionInfo.mayRelay is false): local domains only;
      // greylisting after relay control: a refused relay attempt records no triplet
      rcpt: [recipientLimit(o.maxRecipients), ...(o.isLocalDomain ? [relayControl(o.isLocalDomain)] : []), ...abuse.rcpt],
      data: [],
      endOfData: rules ? [fromHeaderOwned(rules)] : [],
      vrfy: [lookupOnlyForKnownClients(replies.cannotVerify)],
      expn: [lookupOnlyForKnownClients(replies.notImplemented)],
    };
    // LMTP: no AUTH (RFC 2033 §5: access is the listener's, a trusted network or a socket's
    // permissions), and no SPF/DKIM/DMARC: the MTA handing over the mail judged it already
    const offersAuth = submission || (mode === 'mx' && (o.authOnMx ?? false));
    return new StagePolicy({ mode, offersAuth, trusted, lists, ...(o.answers ? { answers: o.answers } : {}), ...(o.inbound && mode === 'mx' ? { inbound: o.inbound } : {}) });
  };
  return { mx: build('mx'), submission: build('submission'), submissions: build('submissions'), lmtp: build('lmtp') };
}
