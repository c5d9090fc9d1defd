/**
 * @module drop-fields
 * The received header block without the fields an end-of-data check names (a forged
 * Authentication-Results claiming our authserv-id, rspamd's own fields), each field with its
 * continuation lines.
 * Standards: RFC 5322 §2.2, §2.2.3 (a field and its continuation lines), RFC 8601 §5.
 * Security: a dropped field goes whole, continuation lines included, so nothing of it is left
 *   to fold into the field above.
 * Limitations: none.
 */
/**
 * The raw header block without the fields `drop` names (by lower-case name and unfolded,
 * trimmed value); each field keeps its continuation lines. The block is returned as is when
 * nothing is dropped.
 */
export function dropFields(header: Buffer, drop: (name: string, value: string) => boolean): Buffer {
  const fields: { start: number; end: number }[] = [];
  let pos = 0;
  while (pos < header.length) {
    let lf = header.indexOf(0x0a, pos);
    lf = lf < 0 ? header.length : lf + 1;
    const first = header[pos];
    // RFC 5322 §2.2.3: a line starting with WSP continues the field before it
    if ((first === 0x20 || first === 0x09) && fields.length > 0) fields[fields.length - 1].end = lf;
    else fields.push({ start: pos, end: lf });
    pos = lf;
  }
  const kept: Buffer[] = [];
  let dropped = false;
  for (const f of fields) {
    const text = header.subarray(f.start, f.end).toString('latin1');
    const colon = text.indexOf(':');
    const name = colon > 0 ? text.slice(0, colon).trim().toLowerCase() : '';
    const value = colon > 0 ? text.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').trim() : '';
    if (name !== '' && drop(name, value)) dropped = true;
    else kept.push(header.subarray(f.start, f.end));
  }
  return dropped ? Buffer.concat(kept) : header;
}
