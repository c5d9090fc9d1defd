/**
 * @module inbound
 * The end-of-data authentication of mail arriving on the MX port: SPF for the client and
 * MAIL FROM (HELO for a null sender), DKIM signatures, and DMARC for the From domain(s), with
 * one Authentication-Results field recording all three and the verdict that DMARC's policy
 * and our settings give (550 5.7.1, a quarantine mark, or nothing). The body is never held:
 * SPF starts with the envelope, DKIM and ARC hash the body as intake spools it
 * (streamed-verify.ts), and only the header block is kept for the verdict.
 * Standards: RFC 7208 (SPF: §2.4 null sender checked as postmaster@HELO, §4.6.4 at most 10
 *   lookups, §4.6.4 at most 2 void lookups, both enforced by mailauth with our limits passed
 *   explicitly), RFC 6376 §6 (DKIM verification), RFC 7489 (DMARC, dmarc.ts), RFC 8601
 *   (Authentication-Results, auth-results.ts), RFC 8617 §5.2 (ARC chain validation, by mailauth).
 * Security: clients that may relay (authenticated or in trusted_networks) are not judged here:
 *   the caller skips them. A temporary DNS error never gives a permanent refusal: temperror is
 *   recorded and accepted, or answered 451 4.7.0 when `temperror` is "defer". Every lookup goes
 *   through the resolver function the caller passes (built on dns/, `delivery.dns_servers`).
 * Limitations: ARC is verified and recorded (arc=) (sealing is for list copies: list-sealer.ts), and a passing chain does not
 *   override a DMARC failure unless its latest sealer is in `trustedArcSealers`; SPF's `exp=` text is not shown.
 *   Each DMARC evaluation is handed to `deps.report` for aggregate reports. Quarantine is this header mark; local delivery puts marked mail in Junk.
 */
import { QUARANTINE_FIELD, replies, type ReversePath, type SessionInfo, type SmtpReply } from '../../core/index.js';
import { unmapIpv4 } from '../../address/index.js';
import { fromAddresses } from '../from-addresses.js';
import { claimsAuthservId, formatAuthResults, type ResInfo } from './auth-results.js';
import { evaluateDmarc, type DmarcOutcome, type TxtLookup } from './dmarc.js';
import { dmarcEvaluation, type DmarcEvaluation } from './dmarc-report.js';
import { failureWanted, type DmarcFailure } from './dmarc-failure.js';
import { loadMailAuth, StreamedVerify, type RawLookup } from './streamed-verify.js';
import type { DKIMVerifyResult } from 'mailauth';

export type { RawLookup } from './streamed-verify.js';

export interface InboundSettings {
  /** our authserv-id (the hostname) */
  readonly authservId: string;
  /** what a DMARC failure under p=reject does: refuse 550 5.7.1, mark as quarantined, or record only */
  readonly dmarcReject: 'reject' | 'quarantine' | 'none';
  /** a temperror in SPF, DKIM or DMARC: accept with the result recorded, or answer 451 */
  readonly temperror: 'accept' | 'defer';
  /** RSA keys shorter than this are a DKIM policy failure (RFC 8301 §3.2: at least 1024) */
  readonly dkimMinKeyBits: number;
  /** RFC 8617 §7.2: sealers (d= of the latest ARC-Seal) whose passing chain overrides a DMARC failure */
  readonly trustedArcSealers?: readonly string[];
}

export interface InboundDeps {
  readonly lookup: RawLookup;
  readonly txt: TxtLookup;
  /** a number in [0, 100) for DMARC pct; Math.random by default */
  readonly sample?: () => number;
  /** told each DMARC evaluation whose record asks for aggregate reports (RFC 7489 §7.2) */
  readonly report?: (e: DmarcEvaluation) => void;
  /** told each evaluation whose record's `ruf` and `fo` ask for a failure report (RFC 7489 §7.3) */
  readonly failure?: (f: DmarcFailure) => void;
}

/** What intake does with the message: refuse it, or prepend `fields` after removing forged ones. */
export interface InboundVerdict {
  readonly refusal?: SmtpReply;
  /** complete header fields to prepend (no trailing CRLF) */
  readonly fields: readonly string[];
  /** a received field to remove before storing (lower-case name, unfolded value) */
  readonly remove: (name: string, value: string) => boolean;
}

export { loadMailAuth };

/**
 * Authenticates one message given whole (tests, and the corpus runs): the streamed run below,
 * fed the whole message as its start.
 */
export function authenticateInbound(
  s: InboundSettings,
  deps: InboundDeps,
  session: SessionInfo,
  sender: ReversePath,
  message: Buffer,
  header: readonly { readonly name: string; readonly value: string }[],
): Promise<InboundVerdict> {
  return startInbound(s, deps, session, sender, { fields: header, complete: true }, message).finish();
}

/**
 * Starts the authentication of one message from `session`: SPF at once (it needs only the
 * envelope), DKIM and ARC over the message as it streams by (`start`, the octets before the
 * body, then each body chunk: streamed-verify.ts hashes the body, nothing of it is kept);
 * `finish` gives the verdict once the body went by.
 */
export function startInbound(
  s: InboundSettings,
  deps: InboundDeps,
  session: SessionInfo,
  sender: ReversePath,
  parsed: { readonly fields: readonly { readonly name: string; readonly value: string }[]; readonly complete: boolean },
  start: Buffer,
): { body(chunk: Buffer): void | Promise<void>; finish(): Promise<InboundVerdict>; abort(): void } {
  const helo = session.heloName ?? '';
  // node's sockets give IPv4 clients of a dual-stack listener as ::ffff:a.b.c.d
  const ip = unmapIpv4(session.remoteAddress ?? '');
  const mailFrom = sender ? `${sender.local}@${sender.domain}` : `postmaster@${helo}`;
  const spfRun = checkSpf(deps.lookup, mailFrom, ip, helo, s.authservId);
  // a message with no DKIM-Signature and no ARC set has nothing to verify: mailauth's parse of
  // the whole message would find the same (no results, no chain)
  const header = parsed.fields;
  // past intake's header cap, the rest of the block is in the body: verified then anyway
  const verify = !parsed.complete || signedOrSealed(start) ? new StreamedVerify({ lookup: deps.lookup, minBitLength: s.dkimMinKeyBits, sender: mailFrom }) : undefined;
  void verify?.write(start);
  return {
    body: (chunk) => verify?.write(chunk),
    abort: () => verify?.abort(),
    finish: async () => {
      const dkimRun = verify
        ? verify.end().then(async (r) => (r ? { results: r.results, arc: await verifyArc(r, deps.lookup, s.dkimMinKeyBits) } : { results: [], arc: undefined }))
        : Promise.resolve({ results: [] as DKIMVerifyResult['results'], arc: undefined });
      const [spfResult, { results, arc }] = await Promise.all([spfRun, dkimRun]);
      return verdictOf(s, deps, { sender, mailFrom, helo, ip, header, start }, spfResult, results, arc);
    },
  };
}

/** The Authentication-Results, DMARC's verdict and the reports, from what SPF, DKIM and ARC found. */
async function verdictOf(
  s: InboundSettings,
  deps: InboundDeps,
  m: { readonly sender: ReversePath; readonly mailFrom: string; readonly helo: string; readonly ip: string; readonly header: readonly { readonly name: string; readonly value: string }[]; readonly start: Buffer },
  spfResult: SpfOutcome,
  dkimResults: DKIMVerifyResult['results'],
  arc: ArcOutcome | undefined,
): Promise<InboundVerdict> {
  const { sender, mailFrom, helo, ip, header } = m;
  const spfRes = spfResult.result === 'temperr' ? 'temperror' : spfResult.result;
  const dkim = dkimResults
    .filter((r) => r.signingDomain)
    .map((r) => ({
      result: r.status.result === 'temperr' ? 'temperror' : String(r.status.result),
      domain: r.signingDomain.toLowerCase(),
      selector: r.selector ?? '',
      b: typeof r.status.header?.b === 'string' ? r.status.header.b : '',
      comment: typeof r.status.comment === 'string' ? r.status.comment : undefined,
    }));

  // RFC 7489 §6.6.1: the RFC5322.From domain(s); each distinct one is judged
  const fromDomains = new Set<string>();
  let fromFields = 0;
  for (const f of header) {
    if (f.name !== 'from') continue;
    fromFields++;
    for (const a of fromAddresses(f.value)) if (a && a.domain !== '') fromDomains.add(a.domain.toLowerCase());
  }
  const outcomes: DmarcOutcome[] = [];
  // RFC 8617 §7.2, RFC 7489 §7.2 "trusted_forwarder": a passing chain sealed last by a trusted
  // intermediary (a list, a forwarder) vouches for what it received: the failure is recorded, not acted on
  const trusted = arc?.result === 'pass' && arc.sealer !== undefined && (s.trustedArcSealers ?? []).includes(arc.sealer) ? arc.sealer : undefined;
  for (const d of fromDomains) {
    const o = await evaluateDmarc(d, { spf: { result: spfRes, domain: spfResult.domain }, dkim }, deps.txt, deps.sample);
    outcomes.push(o.result === 'fail' && trusted ? { ...o, disposition: 'none', comment: `overridden: ARC sealed by trusted ${trusted}` } : o);
  }

  const results: ResInfo[] = [];
  const pair = (k: string, v: string): readonly [string, string] => [k, v];
  results.push({
    method: 'spf',
    result: spfRes,
    ...(spfResult.comment ? { comment: String(spfResult.comment) } : {}),
    props: [sender ? pair('smtp.mailfrom', mailFrom) : pair('smtp.helo', helo)],
  });
  if (dkim.length === 0) results.push({ method: 'dkim', result: 'none' });
  for (const d of dkim) {
    results.push({
      method: 'dkim',
      result: d.result,
      ...(d.comment ? { comment: d.comment } : {}),
      props: [pair('header.d', d.domain), pair('header.s', d.selector), pair('header.b', d.b)],
    });
  }
  // RFC 8617 §4.4.3 / RFC 8601: the chain's state as found here (it does not change DMARC's verdict)
  if (arc) results.push({ method: 'arc', result: arc.result, ...(arc.comment ? { comment: arc.comment } : {}) });
  // RFC 7489 §6.6.1: no usable From (none, or several fields) is a permerror, judged by no policy
  if (outcomes.length === 0) results.push({ method: 'dmarc', result: fromFields === 1 ? 'none' : 'permerror', comment: 'no usable From domain' });
  for (const o of outcomes) {
    const c = [o.policy ? `p=${o.policy.toUpperCase()} dis=${o.disposition.toUpperCase()}` : '', o.comment ?? ''].filter((x) => x !== '').join(' ');
    results.push({ method: 'dmarc', result: o.result, ...(c !== '' ? { comment: c } : {}), props: [pair('header.from', o.domain)] });
  }

  // RFC 7489 §7.2: the aggregate reports count each evaluation with what was done with the mail
  if (deps.report) {
    const spfId = { domain: spfResult.domain, scope: sender ? ('mfrom' as const) : ('helo' as const), result: spfRes };
    const dkimIds = dkim.map((d) => ({ domain: d.domain, selector: d.selector, result: d.result }));
    for (const o of outcomes) {
      const applied = o.result !== 'fail' ? 'none' : o.disposition === 'reject' ? s.dmarcReject : o.disposition;
      const e = dmarcEvaluation(o, applied, { sourceIp: ip, spf: spfId, dkim: dkimIds }, Date.now());
      if (e) deps.report(e);
    }
  }

  const fields = [formatAuthResults(s.authservId, results)];
  const remove = (name: string, value: string): boolean =>
    (name === 'authentication-results' && claimsAuthservId(value, s.authservId)) || name === QUARANTINE_FIELD.toLowerCase();

  const temp = spfRes === 'temperror' || dkim.some((d) => d.result === 'temperror') || outcomes.some((o) => o.result === 'temperror');
  const rejecting = outcomes.find((o) => o.result === 'fail' && o.disposition === 'reject');
  const quarantined = outcomes.find((o) => o.result === 'fail' && o.disposition === 'quarantine');
  const verdict = ((): InboundVerdict => {
    if (rejecting && s.dmarcReject === 'reject') return { refusal: replies.dmarcRejected(rejecting.domain), fields, remove };
    // a temporary failure: never a permanent answer; deferred only when configured so
    if (temp && s.temperror === 'defer' && !rejecting) return { refusal: replies.senderAuthTemporaryFailure(), fields, remove };
    const mark = rejecting && s.dmarcReject === 'quarantine' ? rejecting : quarantined;
    if (mark) fields.push(`${QUARANTINE_FIELD}: DMARC policy of ${mark.domain}`);
    return { fields, remove };
  })();

  // RFC 7489 §7.3: failure reports where the record's ruf and fo ask for one
  if (deps.failure) {
    const delivery = verdict.refusal ? ('reject' as const) : verdict.fields.some((f) => f.startsWith(`${QUARANTINE_FIELD}:`)) ? ('spam' as const) : ('delivered' as const);
    const end = m.start.indexOf('\r\n\r\n');
    const headerText = m.start.subarray(0, end < 0 ? Math.min(m.start.length, 64 * 1024) : Math.min(end, 64 * 1024)).toString('latin1');
    for (const o of outcomes) {
      const r = o.record;
      if (!r || r.ruf.length === 0) continue;
      const dkimAligned = o.dkimAligned === true;
      const spfAligned = o.spfAligned === true;
      if (!failureWanted(r.fo, { dmarcFailed: o.result === 'fail', dkimAligned, spfAligned, dkimFailed: dkim.some((d) => d.result === 'fail'), spfFailed: spfRes === 'fail' })) continue;
      deps.failure({
        domain: o.policyDomain ?? o.domain,
        headerFrom: o.domain,
        ruf: r.ruf,
        sourceIp: ip,
        mailFrom: sender ? `${sender.local}@${sender.domain}` : '',
        authResults: fields[0].replace(/^Authentication-Results:\s*/i, ''),
        delivery,
        unaligned: [...(dkimAligned ? [] : (['dkim'] as const)), ...(spfAligned ? [] : (['spf'] as const))],
        header: headerText,
        at: Date.now(),
      });
    }
  }
  return verdict;
}

/** Whether the header block (all of it, however long) has a DKIM-Signature or ARC field. */
function signedOrSealed(start: Buffer): boolean {
  const end = start.indexOf('\r\n\r\n');
  return /(?:^|\n)(?:dkim-signature|arc-[a-z-]+)[ \t]*:/i.test(start.subarray(0, end < 0 ? start.length : end).toString('latin1'));
}

interface ArcOutcome {
  readonly result: string;
  readonly comment?: string;
  readonly sealer?: string;
}

export interface SpfOutcome {
  readonly result: string;
  /** the domain checked: MAIL FROM's, or HELO's for a null sender */
  readonly domain: string;
  readonly comment?: string;
}

/**
 * RFC 7208 check_host() for `sender` (postmaster@HELO for a null sender, §2.4) from `ip`, with
 * the limits of §4.6.4 (10 DNS-querying terms, 2 void lookups) passed to mailauth explicitly.
 * A failure of the library itself is temperror, never fail.
 */
export async function checkSpf(lookup: RawLookup, sender: string, ip: string, helo: string, mta: string): Promise<SpfOutcome> {
  try {
    const { spf } = await loadMailAuth();
    const r = await spf({ sender, ip, helo, mta, resolver: lookup as never, maxResolveCount: 10, maxVoidCount: 2 });
    const result = String(r.status.result);
    return { result: result === 'temperr' ? 'temperror' : result, domain: r.domain ?? '', ...(r.status.comment ? { comment: String(r.status.comment) } : {}) };
  } catch (err) {
    return { result: 'temperror', domain: sender.slice(sender.lastIndexOf('@') + 1), comment: String((err as Error).message ?? err) };
  }
}

/**
 * RFC 8617 §5.2: validates the ARC chain dkimVerify found (mailauth's arc()); undefined when the
 * message has no ARC sets, so no arc= result is written for ordinary mail.
 */
async function verifyArc(dkim: unknown, lookup: RawLookup, minBitLength: number): Promise<ArcOutcome | undefined> {
  const data = (dkim as { arc?: { chain?: unknown; error?: unknown; lastEntry?: { 'arc-seal'?: { parsed?: { d?: { value?: unknown } } } } } }).arc;
  if (!data || (!data.chain && !data.error)) return undefined;
  try {
    const { arc } = await loadMailAuth();
    const r = await arc(data as never, { resolver: lookup as never, minBitLength });
    const result = String(r.status.result);
    const parts = [r.i ? `i=${r.i}` : '', typeof r.status.comment === 'string' ? r.status.comment : ''].filter((x) => x !== '');
    // the latest sealer: the hop that handed the message to us
    const d = data.lastEntry?.['arc-seal']?.parsed?.d?.value;
    const sealer = typeof d === 'string' ? d.toLowerCase().replace(/\.$/, '') : undefined;
    return { result: result === 'temperr' ? 'temperror' : result, ...(parts.length > 0 ? { comment: parts.join(' ') } : {}), ...(sealer ? { sealer } : {}) };
  } catch (err) {
    return { result: 'temperror', comment: String((err as Error).message ?? err) };
  }
}
