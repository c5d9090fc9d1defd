/**
 * @module base-subject
 * The "base subject" of a message, which SORT SUBJECT and THREAD compare: the subject with
 * reply and forward markers, list tags and "(fwd)" trailers taken away.
 * Standards: RFC 5256 §2.1 (base subject extraction: whitespace folded, subj-trailer "(fwd)"
 *   removed from the end, subj-leader ("[blob]" then "re", "fw" or "fwd" then ":") and
 *   leading "[blob]"s removed from the start while something remains, "[fwd: ...]" unwrapped;
 *   compared with i;ascii-casemap), §5 (a subject is a reply or forward when a leader,
 *   trailer or "[fwd:" wrapper was removed).
 * Security: pure string work, each step shortens the subject, so it ends.
 * Limitations: encoded words are decoded by the caller (its charset decoding).
 */

/** The base subject (upper-cased per i;ascii-casemap) and whether it was a reply or forward. */
export function baseSubject(subject: string): { base: string; reply: boolean } {
  // step 1: tabs and line breaks are spaces, runs of spaces one
  let s = subject.replace(/[\t\r\n]+/g, ' ').replace(/ {2,}/g, ' ');
  let reply = false;
  for (;;) {
    // step 2: trailing "(fwd)" and whitespace
    for (;;) {
      const t = s.replace(/\s+$/, '');
      if (/\(fwd\)$/i.test(t)) {
        s = t.slice(0, -5);
        reply = true;
      } else {
        s = t;
        break;
      }
    }
    // steps 3 and 4: leaders ("[blob]"* ("re"|"fw"|"fwd") " "? "[blob]"* ":") and leading blobs
    for (;;) {
      const leader = /^\s*(?:\[[^[\]]*\]\s*)*(?:re|fwd?)\s*(?:\[[^[\]]*\]\s*)*:\s*/i.exec(s);
      if (leader) {
        s = s.slice(leader[0].length);
        reply = true;
        continue;
      }
      const blob = /^\s*\[[^[\]]*\]\s*/.exec(s);
      if (blob && blob[0].length < s.length) {
        s = s.slice(blob[0].length);
        continue;
      }
      s = s.replace(/^\s+/, '');
      break;
    }
    // step 5: "[fwd: ...]" around the whole subject
    const wrapped = /^\[fwd:(.*)\]$/i.exec(s);
    if (!wrapped) break;
    s = wrapped[1];
    reply = true;
  }
  return { base: s.replace(/[a-z]+/g, (x) => x.toUpperCase()), reply };
}
