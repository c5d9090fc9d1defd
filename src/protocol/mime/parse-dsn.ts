/**
 * @module parse-dsn
 * Reads a delivery status notification: finds the message/delivery-status (or
 * message/global-delivery-status) part of a message and returns its per-message and
 * per-recipient fields. Lets tests, and operators' tools, assert on bounces.
 * Standards: RFC 3464 §2.1-§2.3 (fields and groups), RFC 6522 (multipart/report), RFC 6533
 *   (global form, "utf-8" address type with \x{HEX}), RFC 2045 §6.7-§6.8 (QP, base64),
 *   RFC 2046 §5.1.1 (boundaries), RFC 2231 is not needed for boundaries in practice.
 * Security: the input is untrusted: nesting is bounded (depth 8), nothing is evaluated, and a
 *   message with no report part gives undefined, never an exception.
 * Limitations: parts inside message/rfc822 are not searched (a returned original that was
 *   itself a bounce must not be mistaken for this report); non-RFC 3464 bounces (qmail, Exim's
 *   plain text) are not interpreted.
 */
import { parseHeaderFields, findHeader, type HeaderField } from './header-block.js';

export interface ParsedDsnRecipient {
  /** the address part of Final-Recipient ("rfc822; a@b" → "a@b") */
  readonly finalRecipient: string;
  /** its address type, lower case ("rfc822", "utf-8", "x400" ...) */
  readonly finalRecipientType: string;
  readonly originalRecipient?: string;
  /** lower case: failed, delayed, delivered, relayed, expanded */
  readonly action: string;
  /** the RFC 3463 code as written, e.g. "5.1.1" */
  readonly status: string;
  /** the MTA name of Remote-MTA ("dns; mx.example.org" → "mx.example.org") */
  readonly remoteMta?: string;
  /** the text of Diagnostic-Code after its type ("smtp; 550 5.1.1 ..." → "550 5.1.1 ...") */
  readonly diagnostic?: string;
  /** lower case, e.g. "smtp" */
  readonly diagnosticType?: string;
  readonly lastAttemptDate?: string;
  readonly willRetryUntil?: string;
  /** every field of the group, names lower case, values unfolded (last one wins) */
  readonly fields: Readonly<Record<string, string>>;
}

export interface ParsedDsn {
  /** the MTA name of Reporting-MTA */
  readonly reportingMta?: string;
  readonly originalEnvelopeId?: string;
  readonly arrivalDate?: string;
  /** the media type the report came in */
  readonly contentType: 'message/delivery-status' | 'message/global-delivery-status';
  readonly recipients: ParsedDsnRecipient[];
  /** the per-message fields, names lower case */
  readonly fields: Readonly<Record<string, string>>;
}

interface ContentType {
  type: string;
  params: Record<string, string>;
}

/** Parses a Content-Type value: type/subtype and its parameters (quoted strings honoured). */
export function parseContentType(value: string | undefined): ContentType {
  if (value === undefined) return { type: 'text/plain', params: {} };
  const noComments = value.replace(/\([^()"]*\)/g, '');
  const semi = noComments.indexOf(';');
  const type = (semi < 0 ? noComments : noComments.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (const m of noComments.slice(Math.max(semi, 0)).matchAll(re)) {
    params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  }
  return { type, params };
}

function decodeBody(body: string, cte: string | undefined): string {
  const enc = (cte ?? '7bit').trim().toLowerCase();
  if (enc === 'base64') {
    return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('utf8');
  }
  if (enc === 'quoted-printable') {
    const bytes = body
      .replace(/[ \t]+(?=\r?\n)/g, '')
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

function splitHead(entity: string): { fields: HeaderField[]; body: string } {
  const m = /\r?\n\r?\n/.exec(entity);
  // RFC 2046 §5.1.1: a body part may start with its empty line (no header fields)
  if (/^\r?\n/.test(entity)) return { fields: [], body: entity.replace(/^\r?\n/, '') };
  if (!m) return { fields: parseHeaderFields(entity), body: '' };
  return { fields: parseHeaderFields(entity.slice(0, m.index)), body: entity.slice(m.index + m[0].length) };
}

/** The body parts of a multipart body (RFC 2046 §5.1.1), preamble and epilogue dropped. */
function splitMultipart(body: string, boundary: string): string[] {
  const lines = body.split(/\r?\n/);
  const parts: string[] = [];
  let current: string[] | undefined;
  const delim = `--${boundary}`;
  for (const line of lines) {
    if (line.startsWith(delim)) {
      const after = line.slice(delim.length);
      if (after.startsWith('--')) {
        if (current) parts.push(current.join('\r\n'));
        return parts;
      }
      if (/^[ \t]*$/.test(after)) {
        if (current) parts.push(current.join('\r\n'));
        current = [];
        continue;
      }
    }
    current?.push(line);
  }
  if (current) parts.push(current.join('\r\n')); // no close delimiter: be lenient
  return parts;
}

/**
 * The first body part, at any depth of multipart nesting but never inside a message/rfc822,
 * whose media type is one of `types`: its type, header fields and decoded body. Shared by the
 * report readers (DSN here, feedback reports in parse-arf.ts).
 */
export function findReportPart(entity: string, types: readonly string[], depth = 0): { type: string; fields: HeaderField[]; text: string } | undefined {
  if (depth > 8) return undefined;
  const { fields, body } = splitHead(entity);
  const ct = parseContentType(findHeader(fields, 'content-type'));
  if (types.includes(ct.type)) return { type: ct.type, fields, text: decodeBody(body, findHeader(fields, 'content-transfer-encoding')) };
  if (ct.type.startsWith('multipart/') && ct.params.boundary) {
    for (const part of splitMultipart(body, ct.params.boundary)) {
      const found = findReportPart(part, types, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** "rfc822; <a@b>" → { type: "rfc822", addr: "a@b" }; \x{HEX} decoded for utf-8. */
function typedValue(v: string): { type: string; value: string } {
  const semi = v.indexOf(';');
  const type = semi < 0 ? '' : v.slice(0, semi).trim().toLowerCase();
  let value = (semi < 0 ? v : v.slice(semi + 1)).trim();
  if (type === 'rfc822' || type === 'utf-8' || type === '') {
    value = value.replace(/^<(.*)>$/, '$1').trim();
  }
  if (type === 'utf-8') {
    value = value.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)));
  }
  return { type, value };
}

/** Splits the report body into field groups: per-message first, then one per recipient. */
function fieldGroups(text: string): Record<string, string>[] {
  const perRecipient = new Set([
    'original-recipient',
    'final-recipient',
    'action',
    'status',
    'remote-mta',
    'diagnostic-code',
    'last-attempt-date',
    'final-log-id',
    'will-retry-until',
  ]);
  const groups: Record<string, string>[] = [{}];
  for (const block of text.split(/\r?\n(?:[ \t]*\r?\n)+/)) {
    let afterBlank = true;
    for (const f of parseHeaderFields(block)) {
      const name = f.name.toLowerCase();
      let cur = groups[groups.length - 1];
      const inMessage = groups.length === 1;
      // RFC 3464 §2.1.3: a blank line ends a group. Reports that leave the blank line out are
      // split where a recipient's first field (Original- or Final-Recipient) comes again.
      const startsGroup = inMessage
        ? perRecipient.has(name)
        : afterBlank ||
          ((name === 'final-recipient' || name === 'original-recipient') && name in cur);
      if (startsGroup) {
        cur = {};
        groups.push(cur);
      }
      afterBlank = false;
      cur[name] = f.value.trim();
    }
  }
  return groups;
}

/**
 * Parses a DSN message (a whole message, CRLF or LF line ends, or the body of a
 * message/delivery-status part when `bare` is set). undefined when there is no report.
 */
export function parseDsn(input: string | Buffer, opts: { bare?: boolean } = {}): ParsedDsn | undefined {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const report = opts.bare ? { type: 'message/delivery-status' as const, text } : findReportPart(text, ['message/delivery-status', 'message/global-delivery-status']);
  if (!report) return undefined;
  const [perMessage, ...groups] = fieldGroups(report.text);
  const recipients: ParsedDsnRecipient[] = [];
  for (const g of groups) {
    if (!g['final-recipient'] && !g['original-recipient'] && !g.action && !g.status) continue;
    const final = typedValue(g['final-recipient'] ?? g['original-recipient'] ?? '');
    const diag = g['diagnostic-code'] !== undefined ? typedValue(g['diagnostic-code']) : undefined;
    recipients.push({
      finalRecipient: final.value,
      finalRecipientType: final.type,
      ...(g['original-recipient'] !== undefined && { originalRecipient: typedValue(g['original-recipient']).value }),
      action: (g.action ?? '').toLowerCase(),
      status: (g.status ?? '').split(/[\s(]/)[0],
      ...(g['remote-mta'] !== undefined && { remoteMta: typedValue(g['remote-mta']).value }),
      ...(diag && { diagnostic: diag.value, diagnosticType: diag.type }),
      ...(g['last-attempt-date'] !== undefined && { lastAttemptDate: g['last-attempt-date'] }),
      ...(g['will-retry-until'] !== undefined && { willRetryUntil: g['will-retry-until'] }),
      fields: g,
    });
  }
  return {
    ...(perMessage['reporting-mta'] !== undefined && { reportingMta: typedValue(perMessage['reporting-mta']).value }),
    ...(perMessage['original-envelope-id'] !== undefined && { originalEnvelopeId: perMessage['original-envelope-id'] }),
    ...(perMessage['arrival-date'] !== undefined && { arrivalDate: perMessage['arrival-date'] }),
    contentType: report.type as ParsedDsn['contentType'],
    recipients,
    fields: perMessage,
  };
}
