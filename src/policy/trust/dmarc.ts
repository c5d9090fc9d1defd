/**
 * @module dmarc
 * DMARC evaluation of our own (DESIGN.md §5: mailauth 4.x ignores strict alignment): the
 * organizational domain by a small built-in rule, relaxed and strict identifier alignment, the
 * policy record (`p`, `sp`, `pct`, `adkim`, `aspf`) found at the From domain or at its
 * organizational domain, and the disposition that follows.
 * Standards: RFC 7489 §3.1 (alignment), §3.2 (organizational domain), §6.3 (record tags),
 *   §6.6.1 (one RFC5322.From domain), §6.6.2 (SPF/DKIM results), §6.6.3 (policy discovery),
 *   §6.6.4 (pct: a message outside the sample gets the next weaker policy).
 * Security: a temporary DNS failure is `temperror`, never `fail`; a message with From
 *   addresses in several domains is judged by the weakest-aligned of them (each must pass).
 * Limitations: the organizational domain is the last two labels, or three when the last two
 *   form one of the few well-known two-label public suffixes listed in MULTI_LABEL_SUFFIXES
 *   (co.uk, com.au, …): no downloaded Public Suffix List, so for other multi-label suffixes
 *   (e.g. a city.state.us name, private suffixes such as github.io) relaxed alignment is looser
 *   than the PSL would make it. `rua`, `ruf` and `fo` are read for the reports (dmarc-report.ts,
 *   dmarc-failure.ts).
 */

/** Two-label public suffixes under which registrations happen at the third label. */
const MULTI_LABEL_SUFFIXES = new Set([
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'net.uk', 'ltd.uk', 'plc.uk',
  'com.au', 'net.au', 'org.au', 'edu.au', 'gov.au',
  'co.nz', 'org.nz', 'net.nz', 'co.jp', 'ne.jp', 'or.jp', 'ac.jp', 'go.jp',
  'com.br', 'net.br', 'org.br', 'gov.br', 'co.za', 'org.za', 'com.cn', 'net.cn', 'org.cn',
  'co.in', 'net.in', 'org.in', 'co.kr', 'or.kr', 'com.mx', 'com.ar', 'com.tr', 'co.il',
  'com.sg', 'com.hk', 'com.tw', 'co.id', 'com.my', 'co.th', 'com.pl', 'com.ua', 'co.at',
]);

/** RFC 7489 §3.2, approximated as the module header says. Lower case, no trailing dot. */
export function organizationalDomain(domain: string): string {
  const labels = domain.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length <= 2) return labels.join('.');
  const lastTwo = labels.slice(-2).join('.');
  return labels.slice(MULTI_LABEL_SUFFIXES.has(lastTwo) ? -3 : -2).join('.');
}

export type AlignmentMode = 'r' | 's';

/** RFC 7489 §3.1.1, §3.1.2: strict needs the same name; relaxed the same organizational domain. */
export function aligned(a: string, b: string, mode: AlignmentMode): boolean {
  const x = a.toLowerCase().replace(/\.$/, '');
  const y = b.toLowerCase().replace(/\.$/, '');
  if (mode === 's') return x === y;
  return organizationalDomain(x) === organizationalDomain(y);
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcRecord {
  readonly p: DmarcPolicy;
  readonly sp: DmarcPolicy;
  readonly adkim: AlignmentMode;
  readonly aspf: AlignmentMode;
  /** 0..100 */
  readonly pct: number;
  /** RFC 7489 §6.3 rua: aggregate report destinations, mailto: URIs only, the "!size" suffix dropped */
  readonly rua: readonly string[];
  /** RFC 7489 §6.3 ruf: failure report destinations, as `rua` */
  readonly ruf: readonly string[];
  /** RFC 7489 §6.3 fo: when failure reports are wanted, the options among "0", "1", "d", "s" (default ["0"]) */
  readonly fo: readonly string[];
}

/**
 * RFC 7489 §6.3, §6.4: a record must start with v=DMARC1; a missing or unknown `p` makes it
 * invalid, except that §6.6.3 lets a record with a valid `rua` stand as p=none: here any record
 * without a valid p is ignored (undefined), the same as no record.
 */
export function parseDmarcRecord(text: string): DmarcRecord | undefined {
  const tags = new Map<string, string>();
  const parts = text.split(';').map((s) => s.trim()).filter((s) => s !== '');
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const first = parts[0]?.replace(/\s+/g, '');
  if (first !== 'v=DMARC1') return undefined;
  const policy = (v: string | undefined): DmarcPolicy | undefined => {
    const l = v?.toLowerCase();
    return l === 'none' || l === 'quarantine' || l === 'reject' ? l : undefined;
  };
  const p = policy(tags.get('p'));
  if (p === undefined) return undefined;
  const mode = (v: string | undefined): AlignmentMode => (v?.toLowerCase() === 's' ? 's' : 'r');
  const pctText = tags.get('pct');
  const pctNum = pctText !== undefined && /^\d{1,3}$/.test(pctText) ? Number(pctText) : 100;
  const uris = (v: string | undefined): string[] =>
    (v ?? '')
      .split(',')
      .map((u) => u.trim().replace(/!\d+[kmgt]?$/i, ''))
      .filter((u) => /^mailto:[^\s@,!]+@[^\s@,!]+$/i.test(u))
      .slice(0, 5);
  const fo = (tags.get('fo') ?? '0').split(':').map((o) => o.trim().toLowerCase()).filter((o) => ['0', '1', 'd', 's'].includes(o));
  return { p, sp: policy(tags.get('sp')) ?? p, adkim: mode(tags.get('adkim')), aspf: mode(tags.get('aspf')), pct: Math.min(100, pctNum), rua: uris(tags.get('rua')), ruf: uris(tags.get('ruf')), fo: fo.length > 0 ? fo : ['0'] };
}

/** The outcome of one TXT lookup, as dns/ classifies it. */
export type TxtLookup = (name: string) => Promise<
  { kind: 'found'; records: readonly string[] } | { kind: 'not-found' } | { kind: 'temporary'; error: string }
>;

export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';

export interface DmarcOutcome {
  readonly result: DmarcResult;
  /** the From domain judged */
  readonly domain: string;
  /** the policy that applies after `sp` and `pct` (none when pass / no record) */
  readonly disposition: DmarcPolicy;
  /** the record's policy before pct (for the A-R comment) */
  readonly policy?: DmarcPolicy;
  readonly comment?: string;
  /** the record found and the domain it was found at (the From or its organizational domain) */
  readonly record?: DmarcRecord;
  readonly policyDomain?: string;
  /** §3.1: whether SPF and DKIM each gave an aligned pass (the aggregate report's policy_evaluated) */
  readonly spfAligned?: boolean;
  readonly dkimAligned?: boolean;
}

export interface AuthenticatedIds {
  /** the SPF result and the domain it was for (MAIL FROM's, or HELO's for a null sender) */
  readonly spf: { readonly result: string; readonly domain: string };
  /** d= of each DKIM signature and its result */
  readonly dkim: readonly { readonly result: string; readonly domain: string }[];
}

/**
 * RFC 7489 §6.6.3: the record at the From domain, else at its organizational domain (then `sp`
 * applies when the From domain is not the organizational domain itself).
 */
async function discover(domain: string, txt: TxtLookup): Promise<{ record?: DmarcRecord; atOrg: boolean; temp?: string; at?: string }> {
  const org = organizationalDomain(domain);
  const names = domain === org ? [domain] : [domain, org];
  for (const [i, name] of names.entries()) {
    const r = await txt(`_dmarc.${name}`);
    if (r.kind === 'temporary') return { atOrg: i > 0, temp: r.error };
    if (r.kind !== 'found') continue;
    // §6.6.3: more than one DMARC record at a name is as if there were none
    const recs = r.records.filter((t) => /^\s*v\s*=\s*DMARC1\s*(;|$)/.test(t));
    if (recs.length !== 1) continue;
    const record = parseDmarcRecord(recs[0]);
    if (record) return { record, atOrg: i > 0, at: name };
  }
  return { atOrg: false };
}

/**
 * Judges one From domain. `sample` gives a number in [0, 100) for `pct` (Math.random()*100 by
 * default; tests pass a constant).
 */
export async function evaluateDmarc(
  domain: string,
  ids: AuthenticatedIds,
  txt: TxtLookup,
  sample: () => number = () => Math.random() * 100,
): Promise<DmarcOutcome> {
  const d = domain.toLowerCase();
  const found = await discover(d, txt);
  if (found.temp !== undefined) return { result: 'temperror', domain: d, disposition: 'none', comment: `DNS: ${found.temp}` };
  const rec = found.record;
  if (!rec) return { result: 'none', domain: d, disposition: 'none' };
  const policy = found.atOrg && organizationalDomain(d) !== d ? rec.sp : rec.p;
  // §3.1: an identifier aligns when its check passed and its domain matches in the record's mode
  const spfOk = ids.spf.result === 'pass' && ids.spf.domain !== '' && aligned(ids.spf.domain, d, rec.aspf);
  const dkimOk = ids.dkim.some((s) => s.result === 'pass' && aligned(s.domain, d, rec.adkim));
  const details = { record: rec, policyDomain: found.at ?? d, spfAligned: spfOk, dkimAligned: dkimOk };
  if (spfOk || dkimOk) return { result: 'pass', domain: d, disposition: 'none', policy, ...details };
  // §6.6.4: outside the pct sample the next weaker policy applies
  let disposition = policy;
  if (rec.pct < 100 && sample() >= rec.pct) disposition = policy === 'reject' ? 'quarantine' : 'none';
  return { result: 'fail', domain: d, disposition, policy, ...details };
}
