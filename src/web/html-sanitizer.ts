/**
 * @module html-sanitizer
 * Makes a message's HTML body safe to show in the webmail: an allow-list of structural and
 * text elements and attributes (sanitize-html), links only to http, https and mailto (opened
 * outside the frame), images only from the message itself (cid: parts, mapped to this
 * server's blob URLs) or, once the user asks, from remote http(s) servers. The result is
 * then shown in a sandboxed frame under its own CSP (messageFrameCsp), a second wall should
 * anything pass this one.
 * Standards: WHATWG HTML; RFC 2392 (cid: URLs); W3C CSP Level 3 (sandbox, img-src).
 * Security: removed entirely (with their content): script, style, iframe, object, embed,
 *   form and its controls, svg and math, template, noscript, title; removed: every event
 *   handler attribute, style attributes (CSS expressions, url() fetches), class/id (no
 *   targeting of the app's CSS), <base>, <meta> (refresh), <link>; URLs with any scheme but
 *   http, https, mailto (javascript:, data:, vbscript:, file:) are dropped; protocol-relative
 *   URLs are refused. A remote image keeps its address in data-remote-src only, so nothing
 *   is fetched until the user asks (tracking pixels).
 * Limitations: inline styles are dropped, so rich mail loses colours and layout details.
 */
import sanitizeHtml from 'sanitize-html';

export interface SanitizeOptions {
  /** maps a cid: reference (RFC 2392, without "cid:") to a URL of this server, or undefined */
  readonly cidUrl?: (contentId: string) => string | undefined;
  /** load remote http(s) images (the user asked) */
  readonly remoteImages?: boolean;
}

export interface SanitizedHtml {
  readonly html: string;
  /** how many remote images were held back */
  readonly blockedImages: number;
}

const text = ['p', 'br', 'div', 'span', 'b', 'i', 'u', 's', 'em', 'strong', 'small', 'sub', 'sup', 'mark', 'q', 'cite', 'abbr', 'code', 'kbd', 'samp', 'var', 'pre', 'blockquote', 'hr'];
const structure = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'td', 'th', 'caption', 'colgroup', 'col', 'center', 'font', 'address', 'article', 'section', 'header', 'footer', 'figure', 'figcaption'];

/** The webmail's rule for a message body's HTML. */
export function sanitizeMessageHtml(html: string, opts: SanitizeOptions = {}): SanitizedHtml {
  let blockedImages = 0;
  const out = sanitizeHtml(html, {
    allowedTags: [...text, ...structure, 'a', 'img'],
    allowedAttributes: {
      a: ['href', 'title', 'target', 'rel'],
      img: ['src', 'alt', 'title', 'width', 'height', 'data-remote-src'],
      td: ['colspan', 'rowspan', 'align', 'valign'],
      th: ['colspan', 'rowspan', 'align', 'valign'],
      table: ['border', 'cellpadding', 'cellspacing', 'width'],
      font: ['color', 'size'],
      '*': ['dir', 'lang', 'align'],
    },
    // everything else is dropped with its content where the content is not text to read
    disallowedTagsMode: 'discard',
    nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'template', 'svg', 'math', 'iframe', 'object', 'embed', 'select', 'button'],
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https', 'cid'] },
    allowProtocolRelative: false,
    enforceHtmlBoundary: true,
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, target: '_blank', rel: 'noopener noreferrer' } }),
      img: (tagName, attribs) => {
        const src = (attribs.src ?? '').trim();
        const { src: _drop, ['data-remote-src']: _forged, ...rest } = attribs;
        if (/^cid:/i.test(src)) {
          const url = opts.cidUrl?.(decodeURIComponent(src.slice(4)).replace(/^<|>$/g, ''));
          return { tagName, attribs: url !== undefined ? { ...rest, src: url } : rest };
        }
        if (/^https?:/i.test(src)) {
          if (opts.remoteImages) return { tagName, attribs: { ...rest, src } };
          blockedImages++;
          return { tagName, attribs: { ...rest, 'data-remote-src': src, alt: rest.alt ?? '[remote image]' } };
        }
        return { tagName, attribs: rest };
      },
    },
  });
  return { html: out, blockedImages };
}

/**
 * The CSP of the frame a message is shown in: no script at all, no style sheets but inline
 * ones of the document shell, images from this origin (cid: parts) and, when asked, from any
 * https/http server; the sandbox (no scripts, no same-origin, no forms, no top navigation)
 * still holds if the frame is opened on its own.
 */
export function messageFrameCsp(remoteImages: boolean): string {
  return [
    "default-src 'none'",
    `img-src 'self' data:${remoteImages ? ' https: http:' : ''}`,
    "style-src 'unsafe-inline'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
    'sandbox allow-popups allow-popups-to-escape-sandbox',
  ].join('; ');
}
