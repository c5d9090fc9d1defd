/**
 * @module email-parse
 * The properties of a JMAP Email that come from the message itself (RFC 8621 §4.1.2–§4.1.4):
 * header fields in the parsed forms, the body structure with part ids and blob ids, the
 * textBody/htmlBody/attachments lists, body values (decoded to text) and the preview.
 * Part ids are IMAP's section numbers ("1", "1.2"), so both protocols name parts alike.
 * Standards: RFC 8621 §4.1.2 (header parsed forms), §4.1.4 (the parseStructure algorithm),
 *   RFC 2045/2046 (via protocol/ mime-tree), RFC 2047 (encoded words), RFC 2231 (names).
 * Security: broken MIME never throws (mime-tree); a charset node does not know decodes as
 *   UTF-8 with isEncodingProblem; body values are cut at maxBodyValueBytes.
 * Limitations: an attached message (message/rfc822) is one leaf part (its parts are not
 *   listed); header:…:asURLs and :asGroupedAddresses are not offered.
 */
import { addressParser, decodeWords } from 'postal-mime';
import { decodeTransfer, findHeader, type HeaderField } from '../../protocol/mime/index.js';
import { parseMimeTree, type MimePart } from '../../protocol/imap/index.js';

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface BodyPart {
  partId: string | null;
  blobId: string | null;
  size: number;
  headers: { name: string; value: string }[];
  name: string | null;
  type: string;
  charset: string | null;
  disposition: string | null;
  cid: string | null;
  language: string[] | null;
  location: string | null;
  subParts?: BodyPart[];
}

export interface ParsedEmail {
  readonly fields: readonly HeaderField[];
  readonly bodyStructure: BodyPart;
  readonly textBody: BodyPart[];
  readonly htmlBody: BodyPart[];
  readonly attachments: BodyPart[];
  /** decoded text of a leaf part, by part id */
  text(partId: string): { value: string; isEncodingProblem: boolean } | undefined;
  /** decoded octets of a leaf part, by part id */
  octets(partId: string): Buffer | undefined;
}

const decode = (s: string): string => {
  try {
    return decodeWords(s);
  } catch {
    return s;
  }
};

export function parseAddresses(value: string | undefined): EmailAddress[] | null {
  if (value === undefined) return null;
  const list = addressParser(value, { flatten: true }) as { name?: string; address?: string }[];
  return list.filter((a) => a.address).map((a) => ({ name: a.name ? decode(a.name) : null, email: a.address ?? '' }));
}

export function parseMessageIds(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]);
  return ids.length > 0 ? ids : null;
}

export function parseDate(value: string | undefined): string | null {
  if (value === undefined) return null;
  const t = Date.parse(value.replace(/\([^)]*\)/g, '').trim());
  return Number.isNaN(t) ? null : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 8621 §4.1.2.2 Text form: unfolded, encoded words decoded, whitespace trimmed. */
export function asText(value: string | undefined): string | null {
  return value === undefined ? null : decode(value).trim();
}

/** A header:Name[:asForm][:all] property (RFC 8621 §4.1.3); undefined when the form is not offered. */
export function headerProperty(fields: readonly HeaderField[], property: string): unknown {
  const m = /^header:([^:]+)(?::(asRaw|asText|asAddresses|asMessageIds|asDate))?(:all)?$/i.exec(property);
  if (!m) return undefined;
  const name = m[1].toLowerCase();
  const form = (m[2] ?? 'asRaw').toLowerCase();
  const values = fields.filter((f) => f.name.toLowerCase() === name).map((f) => f.value);
  const convert = (v: string | undefined): unknown => {
    switch (form) {
      case 'astext':
        return asText(v);
      case 'asaddresses':
        return parseAddresses(v);
      case 'asmessageids':
        return parseMessageIds(v);
      case 'asdate':
        return parseDate(v);
      default:
        return v === undefined ? null : ` ${v}`;
    }
  };
  return m[3] ? values.map(convert) : convert(values.at(-1));
}

function param(p: MimePart, name: string): string | undefined {
  return p.contentType.params.find(([k]) => k === name)?.[1];
}

/** RFC 2231 filename*=charset''encoded (single-part form) or the plain parameter, encoded words decoded. */
function partName(p: MimePart): string | null {
  const disposition = findHeader(p.fields, 'content-disposition');
  const fromParams = (params: readonly (readonly [string, string])[]): string | undefined => {
    for (const key of ['filename*', 'name*']) {
      const v = params.find(([k]) => k === key)?.[1];
      const m = v === undefined ? null : /^([^']*)'[^']*'(.*)$/.exec(v);
      if (m) {
        try {
          return decodeURIComponent(m[2]);
        } catch {
          return m[2];
        }
      }
    }
    return params.find(([k]) => k === 'filename' || k === 'name')?.[1];
  };
  const dispParams = disposition === undefined ? [] : parseDispositionParams(disposition);
  const n = fromParams(dispParams) ?? fromParams(p.contentType.params);
  return n === undefined ? null : decode(n);
}

function parseDispositionParams(value: string): [string, string][] {
  return [...value.matchAll(/;\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g)].map((m) => [m[1].toLowerCase(), m[2].trim().replace(/^"(.*)"$/, '$1').replace(/\\(.)/g, '$1')]);
}

export function parseEmail(buf: Buffer, blobPrefix: string): ParsedEmail {
  const root = parseMimeTree(buf);
  const leaves = new Map<string, MimePart>();
  const build = (p: MimePart, partId: string | null): BodyPart => {
    const type = `${p.contentType.type}/${p.contentType.subtype}`;
    const disposition = findHeader(p.fields, 'content-disposition');
    const cid = findHeader(p.fields, 'content-id');
    const part: BodyPart = {
      partId: p.children ? null : partId,
      blobId: p.children ? null : `${blobPrefix}_${(partId ?? '1').replace(/\./g, '-')}`,
      size: p.end - p.bodyStart,
      headers: p.fields.map((f) => ({ name: f.name, value: ` ${f.value}` })),
      name: partName(p),
      type,
      charset: param(p, 'charset') ?? (p.contentType.type === 'text' ? 'us-ascii' : null),
      disposition: disposition === undefined ? null : disposition.split(';')[0].trim().toLowerCase(),
      cid: cid === undefined ? null : cid.trim().replace(/^<(.*)>$/, '$1'),
      language: null,
      location: findHeader(p.fields, 'content-location') ?? null,
    };
    if (p.children) part.subParts = p.children.map((c, i) => build(c, partId === null ? String(i + 1) : `${partId}.${i + 1}`));
    else leaves.set(partId ?? '1', p);
    return part;
  };
  const bodyStructure = build(root, root.children ? null : '1');
  const textBody: BodyPart[] = [];
  const htmlBody: BodyPart[] = [];
  const attachments: BodyPart[] = [];
  parseStructure([bodyStructure], 'mixed', false, htmlBody, textBody, attachments);
  const octets = (partId: string): Buffer | undefined => {
    const p = leaves.get(partId);
    if (!p) return undefined;
    const body = buf.subarray(p.bodyStart, p.end);
    return decodeTransfer(body, (findHeader(p.fields, 'content-transfer-encoding') ?? '').trim().toLowerCase()) ?? body;
  };
  return {
    fields: root.fields,
    bodyStructure,
    textBody,
    htmlBody,
    attachments,
    octets,
    text: (partId) => {
      const data = octets(partId);
      const p = leaves.get(partId);
      if (!data || !p) return undefined;
      const charset = param(p, 'charset') ?? 'utf-8';
      try {
        return { value: new TextDecoder(charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset).decode(data), isEncodingProblem: false };
      } catch {
        return { value: new TextDecoder('utf-8').decode(data), isEncodingProblem: true };
      }
    },
  };
}

const isInlineMediaType = (t: string): boolean => t.startsWith('image/') || t.startsWith('audio/') || t.startsWith('video/');

/** RFC 8621 §4.1.4: which parts are the text body, the HTML body, and attachments. */
function parseStructure(parts: BodyPart[], multipartType: string, inAlternative: boolean, htmlBody: BodyPart[] | null, textBody: BodyPart[] | null, attachments: BodyPart[]): void {
  const textLength = textBody ? textBody.length : -1;
  const htmlLength = htmlBody ? htmlBody.length : -1;
  for (const [i, part] of parts.entries()) {
    const isMultipart = part.type.startsWith('multipart/');
    const isInline =
      part.disposition !== 'attachment' &&
      (part.type === 'text/plain' || part.type === 'text/html' || isInlineMediaType(part.type)) &&
      (i === 0 || (multipartType !== 'related' && (isInlineMediaType(part.type) || part.name === null)));
    if (isMultipart) {
      const sub = part.type.split('/')[1];
      parseStructure(part.subParts ?? [], sub, inAlternative || sub === 'alternative', htmlBody, textBody, attachments);
    } else if (isInline) {
      if (multipartType === 'alternative') {
        if (part.type === 'text/plain') textBody?.push(part);
        else if (part.type === 'text/html') htmlBody?.push(part);
        else attachments.push(part);
        continue;
      } else if (inAlternative) {
        if (part.type === 'text/plain') htmlBody = null;
        if (part.type === 'text/html') textBody = null;
      }
      textBody?.push(part);
      htmlBody?.push(part);
      if ((!textBody || !htmlBody) && isInlineMediaType(part.type)) attachments.push(part);
    } else {
      attachments.push(part);
    }
  }
  if (multipartType === 'alternative' && textBody && htmlBody) {
    // a missing alternative is filled from the other
    if (textLength === textBody.length && htmlLength !== htmlBody.length) textBody.push(...htmlBody.slice(htmlLength));
    if (htmlLength === htmlBody.length && textLength !== textBody.length) htmlBody.push(...textBody.slice(textLength));
  }
}

/** Plain text for previews and snippets: the first text part, or the first HTML part without its tags. */
export function plainText(parsed: ParsedEmail): string {
  const t = parsed.textBody.find((p) => p.type === 'text/plain') ?? parsed.htmlBody.find((p) => p.type === 'text/html');
  if (!t?.partId) return '';
  const v = parsed.text(t.partId)?.value ?? '';
  return t.type === 'text/html' ? v.replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>') : v;
}
