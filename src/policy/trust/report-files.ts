/**
 * @module report-files
 * The files of a report message unpacked: gzip (RFC 1952) and ZIP (one or more entries, stored
 * or deflated) as DMARC (RFC 7489 §7.2.1.1: "zip" or "gzip" of the XML) and TLS-RPT (RFC 8460
 * §5.3: application/tlsrpt+gzip or +json) reporters send them, and a small reader of the XML.
 * Standards: RFC 1952 (gzip), PKWARE APPNOTE 6.3 §4.3 (ZIP local headers, central directory,
 *   end of central directory; methods 0 stored and 8 deflate), RFC 1951 (deflate); XML 1.0
 *   (elements, text, CDATA, comments, the five predefined entities and character references).
 * Security: untrusted input: every unpacked file is capped (`MAX_FILE`, 20 MiB) and a ZIP has at
 *   most 16 entries; anything malformed throws an Error naming the problem, never hangs. The XML
 *   reader has no DTD, no external entities, no attribute values (DMARC reports need none).
 * Limitations: no ZIP64, no encrypted entries; XML attributes are skipped; namespace prefixes are
 *   dropped from element names.
 */
import { gunzipSync, inflateRawSync } from 'node:zlib';

export const MAX_FILE = 20 * 1024 * 1024;

/** The bytes, gunzipped or unzipped when they are gzip or ZIP, else as they are. */
export function unpack(data: Buffer): { name?: string; data: Buffer }[] {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return [{ data: gunzipSync(data, { maxOutputLength: MAX_FILE }) }];
  if (data.length >= 4 && data.readUInt32LE(0) === 0x04034b50) return unzip(data);
  return [{ data }];
}

/** APPNOTE §4.3.16: the end of central directory record, searched from the end. */
function unzip(z: Buffer): { name: string; data: Buffer }[] {
  let eocd = -1;
  for (let i = z.length - 22; i >= Math.max(0, z.length - 22 - 65535); i--) {
    if (z.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('ZIP: no end of central directory');
  const entries = z.readUInt16LE(eocd + 10);
  if (entries > 16) throw new Error(`ZIP: ${entries} entries, at most 16 read`);
  let p = z.readUInt32LE(eocd + 16);
  const out: { name: string; data: Buffer }[] = [];
  for (let n = 0; n < entries; n++) {
    if (p + 46 > z.length || z.readUInt32LE(p) !== 0x02014b50) throw new Error('ZIP: bad central directory');
    const method = z.readUInt16LE(p + 10);
    const size = z.readUInt32LE(p + 20);
    const plain = z.readUInt32LE(p + 24);
    const nameLen = z.readUInt16LE(p + 28);
    const local = z.readUInt32LE(p + 42);
    const name = z.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + z.readUInt16LE(p + 30) + z.readUInt16LE(p + 32);
    if (plain > MAX_FILE) throw new Error(`ZIP: ${name || 'an entry'} is over ${MAX_FILE} octets`);
    if (local + 30 > z.length || z.readUInt32LE(local) !== 0x04034b50) throw new Error('ZIP: bad local header');
    const start = local + 30 + z.readUInt16LE(local + 26) + z.readUInt16LE(local + 28);
    const raw = z.subarray(start, start + size);
    if (method === 0) out.push({ name, data: Buffer.from(raw) });
    else if (method === 8) out.push({ name, data: inflateRawSync(raw, { maxOutputLength: MAX_FILE }) });
    else throw new Error(`ZIP: compression method ${method} is not supported`);
  }
  return out;
}

/** An XML element: its local name, child elements and text. */
export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    const v = ENTITIES[e.toLowerCase()];
    if (v === undefined) throw new Error(`XML: unknown entity &${e};`);
    return v;
  });
}

/** The root element of an XML document; throws on a document that is not well-formed. */
export function parseXml(text: string): XmlElement {
  const root: XmlElement = { name: '', children: [], text: '' };
  const stack: XmlElement[] = [root];
  const re = /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const top = stack[stack.length - 1];
    if (m[7]) throw new Error(`XML: stray "<" at offset ${m.index}`);
    if (m[1] !== undefined) top.text += m[1];
    else if (m[6] !== undefined) top.text += decode(m[6]);
    else if (m[3]) {
      const name = m[3].replace(/^[^:]*:/, '');
      if (m[2]) {
        if (stack.length < 2 || top.name !== name) throw new Error(`XML: </${m[3]}> does not close <${top.name || 'nothing'}>`);
        stack.pop();
      } else {
        const el: XmlElement = { name, children: [], text: '' };
        top.children.push(el);
        if (!m[5]) stack.push(el);
      }
    }
  }
  if (stack.length > 1) throw new Error(`XML: <${stack[stack.length - 1].name}> is not closed`);
  if (root.children.length !== 1) throw new Error('XML: not one root element');
  return root.children[0];
}

/** The first child element named `name`, or undefined. */
export function child(e: XmlElement | undefined, name: string): XmlElement | undefined {
  return e?.children.find((c) => c.name === name);
}

/** The trimmed text of the element at `path` below `e`, or ''. */
export function textAt(e: XmlElement | undefined, ...path: string[]): string {
  let cur = e;
  for (const p of path) cur = child(cur, p);
  return cur?.text.trim() ?? '';
}
