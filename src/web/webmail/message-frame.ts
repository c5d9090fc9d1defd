/**
 * @module message-frame
 * A message's body as the webmail shows it: one HTML document made on the server from the
 * message's HTML body (sanitised: html-sanitizer.ts) or its text (escaped, links made
 * clickable), inline images (cid: parts, RFC 2392) embedded as data: URLs, remote images held
 * back until the user asks. The webmail puts the document in a sandboxed frame (srcdoc, no
 * scripts, an opaque origin); the document carries its own CSP besides the one it inherits
 * from the page.
 * Standards: RFC 8621 §4.1.4 (htmlBody), RFC 2392 (cid:), RFC 2046 (parts), WHATWG HTML
 *   (srcdoc), W3C CSP Level 3 (hash sources for the frame's one style element).
 * Security: the message's markup passes the sanitiser's allow-list; inline images are raster
 *   types only (no SVG), at most `maxInlineOctets` in all; the frame's stylesheet is a
 *   constant whose hash is the only inline style the page's CSP allows.
 * Limitations: inline styles of the message are dropped (the sanitiser's rule), so rich mail
 *   loses colours and layout details; images over the inline budget show as their alt text.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sanitizeMessageHtml } from '../html-sanitizer.js';
import type { BodyPart, ParsedEmail } from '../jmap/email-parse.js';

/** The frame's stylesheet (a constant: its hash is in the page's and the frame's CSP). */
export const frameCss =
  'body{margin:0;padding:12px;font:15px/1.45 system-ui,sans-serif;color:#1d2330;overflow-wrap:break-word}' +
  'img{max-width:100%;height:auto}pre{white-space:pre-wrap;font:inherit;margin:0}' +
  'blockquote{border-left:3px solid #9aa5b8;margin:0 0 0 .4em;padding-left:.8em;color:#3a4356}' +
  'a{color:#1d4ed8}table{max-width:100%}';

/** The CSP source of the frame's stylesheet. */
export const frameStyleSource = `'sha256-${createHash('sha256').update(frameCss).digest('base64')}'`;

/** Inline images are embedded up to this many octets per message. */
export const maxInlineOctets = 8 * 1024 * 1024;

const rasterTypes = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp', 'image/avif']);

/** The CSP the frame's document declares (it also inherits the page's). */
export function frameCsp(remoteImages: boolean): string {
  return [
    "default-src 'none'",
    `img-src data:${remoteImages ? ' https: http:' : ''}`,
    `style-src ${frameStyleSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Plain text as HTML: escaped, http(s) addresses made into links (the sanitiser then checks them). */
export function textToHtml(text: string): string {
  const escaped = escapeHtml(text).replace(/\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g, (url) => `<a href="${url}">${url}</a>`);
  return `<pre>${escaped}</pre>`;
}

function leaves(p: BodyPart): BodyPart[] {
  return p.subParts ? p.subParts.flatMap(leaves) : [p];
}

export interface MessageFrame {
  /** the whole document, for the frame's srcdoc */
  readonly html: string;
  /** remote images held back (0 when shown or none) */
  readonly blockedImages: number;
}

/** The document of one parsed message; `remoteImages` when the user asked for them. */
export function messageFrame(parsed: ParsedEmail, remoteImages: boolean): MessageFrame {
  let budget = maxInlineOctets;
  const dataUrl = (part: BodyPart): string | undefined => {
    if (!rasterTypes.has(part.type) || part.partId === null) return undefined;
    const data = parsed.octets(part.partId);
    if (!data || data.length > budget) return undefined;
    budget -= data.length;
    return `data:${part.type};base64,${data.toString('base64')}`;
  };
  const byCid = new Map<string, BodyPart>();
  for (const leaf of leaves(parsed.bodyStructure)) if (leaf.cid) byCid.set(leaf.cid, leaf);
  // the sanitiser keeps only http(s) and cid: image addresses: an inline image is given a
  // placeholder address there (unguessable by the message), replaced by its data: URL after
  const nonce = randomBytes(9).toString('hex');
  const inline: string[] = [];
  const cidUrl = (cid: string): string | undefined => {
    const part = byCid.get(cid);
    const url = part && dataUrl(part);
    if (url === undefined) return undefined;
    inline.push(url);
    return `inline-${nonce}-${inline.length - 1}`;
  };
  // RFC 8621 §4.1.4: htmlBody is the body to show, text parts standing in where HTML is missing
  const pieces: string[] = [];
  for (const part of parsed.htmlBody) {
    if (part.partId === null) continue;
    if (part.type === 'text/html') pieces.push(parsed.text(part.partId)?.value ?? '');
    else if (part.type.startsWith('text/')) pieces.push(textToHtml(parsed.text(part.partId)?.value ?? ''));
    else if (part.type.startsWith('image/')) {
      const key = part.cid ?? `${nonce}-part-${part.partId}`;
      byCid.set(key, part);
      pieces.push(`<img src="cid:${encodeURIComponent(key)}" alt="${escapeHtml(part.name ?? '')}">`);
    }
  }
  const body = sanitizeMessageHtml(pieces.join('\n'), { remoteImages, cidUrl });
  const withImages = body.html.replace(new RegExp(`inline-${nonce}-(\\d+)`, 'g'), (_m, i: string) => inline[Number(i)]);
  const html = [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${frameCsp(remoteImages)}">`,
    '<meta name="referrer" content="no-referrer">',
    `<style>${frameCss}</style></head><body>`,
    withImages,
    '</body></html>',
  ].join('');
  return { html, blockedImages: body.blockedImages };
}
