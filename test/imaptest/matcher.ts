/**
 * @module matcher
 * Matches a server response against an imaptest pattern, as `scripted_test.md` describes:
 * strings compare without case; `$name`/`${name}` is a variable, set from the response the
 * first time it is met (up to the pattern's next character) and compared octet by octet after;
 * `$` alone matches any one argument, a list included; `$N` is the current sequence number of
 * the message that was number N when the command group began (EXPUNGEs shift it); `$modseqN`
 * must grow at least as much as N does; `${case:text}` compares with case. Lists match in order
 * unless `$!unordered[=n]` (chains of n in any order, extra ones allowed unless `$!noextra`,
 * `$!ignore=x` and `$!ban=x` refine that).
 * Standards: none beyond the format's description.
 * Security: pure; patterns come from the corpus and responses are only compared.
 * Limitations: a variable's end is found from the single next pattern character, as the format
 *   does.
 */
import { astring, type ImapArg } from './imap-args.js';

/** The variables of one script run and the sequence map of the current command group. */
export class MatchState {
  readonly vars = new Map<string, string>();
  /** sequence number at the group's start - 1 → current sequence number, 0 when expunged */
  seqmap: number[] = [];
  private modseqIndex = 0;
  private modseqValue = 0n;
  /** variables set by the match being tried (undone when it fails) */
  added: string[] = [];

  startGroup(messages: number): void {
    this.seqmap = Array.from({ length: messages }, (_, i) => i + 1);
  }

  /** An EXPUNGE of `seq`: later messages move down by one. */
  expunged(seq: number): void {
    for (let i = seq - 1; i < this.seqmap.length; i++) {
      if (this.seqmap[i] === seq) this.seqmap[i] = 0;
      else if (this.seqmap[i] > seq) this.seqmap[i]--;
    }
  }

  relativeSeq(n: number): string {
    if (n === 0) return '<zero seq>';
    if (n > this.seqmap.length) return '<out of range>';
    return this.seqmap[n - 1] === 0 ? '<expunged>' : String(this.seqmap[n - 1]);
  }

  /** `$modseqN` must be at least as far above the last one as N is. */
  private modseq(index: number, got: string): string {
    if (!/^\d+$/.test(got)) return '$modseq-not-number';
    if (this.modseqIndex > index) return '$modseq-order-mismatch';
    const least = this.modseqValue + BigInt(index - this.modseqIndex);
    let value = BigInt(got);
    let out = got;
    if (value < least) {
      out = `$modseq-at-least-${least}`;
      value = least;
    }
    this.modseqIndex = index;
    this.modseqValue = value;
    return out;
  }

  /**
   * A command or failure text with its variables put in: `$$` is `$`, `$!…` directives are
   * dropped; an unset variable is an error (or left as `$` when `lenient`).
   */
  expand(text: string, lenient = false): string {
    let out = '';
    for (let i = 0; i < text.length; i++) {
      if (text[i] !== '$' || i === text.length - 1) {
        out += text[i];
        continue;
      }
      i++;
      if (text[i] === '$') {
        out += '$';
        continue;
      }
      if (text[i] === '!') {
        while (i + 1 < text.length && text[i + 1] !== ' ') i++;
        continue;
      }
      let name: string;
      if (text[i] === '{') {
        const end = text.indexOf('}', i);
        if (end < 0) throw new Error(`missing '}' in ${text}`);
        name = text.slice(i + 1, end);
        i = end;
      } else {
        name = /^[A-Za-z0-9_]*/.exec(text.slice(i))![0];
        i += name.length - 1;
      }
      if (/^\d+$/.test(name)) out += this.relativeSeq(Number(name));
      else {
        const v = this.vars.get(name);
        if (v === undefined && !lenient) throw new Error(`uninitialized variable $${name}`);
        out += v ?? '$';
      }
    }
    return out;
  }

  /** Expands `pattern` against `input`, setting unset variables from it; undefined on mismatch. */
  private expandInput(pattern: string, input: string): { out: string; icase: boolean } | undefined {
    let icase = true;
    let out = '';
    let j = 0;
    for (let i = 0; i < pattern.length; ) {
      if (pattern[i] !== '$' || pattern[i + 1] === '$') {
        if (pattern[i] === '$') i++;
        if (j >= input.length || pattern[i].toUpperCase() !== input[j].toUpperCase()) return undefined;
        out += pattern[i++];
        j++;
        continue;
      }
      i++;
      let name: string;
      if (pattern[i] === '{') {
        const end = pattern.indexOf('}', i + 1);
        if (end < 0) return undefined;
        name = pattern.slice(i + 1, end);
        i = end + 1;
      } else {
        name = /^[A-Za-z0-9_]*/.exec(pattern.slice(i))![0];
        i += name.length;
      }
      let value: string | undefined;
      if (/^\d+$/.test(name)) value = this.relativeSeq(Number(name));
      else if (name.startsWith('case:')) {
        value = name.slice(5);
        icase = false;
      } else {
        value = name === '' ? undefined : this.vars.get(name);
        if (value === undefined) {
          // the value runs up to the pattern's next character
          const next = pattern[i] !== '$' ? pattern[i] : this.expandInput(pattern.slice(i), input.slice(j))?.out[0];
          let p = j;
          while (p < input.length && (next === undefined || input[p].toUpperCase() !== next.toUpperCase())) p++;
          value = input.slice(j, p);
          const m = /^modseq(\d+)$/.exec(name);
          if (m) {
            value = this.modseq(Number(m[1]), value);
            this.vars.set(name, value);
          } else if (name !== '') {
            this.vars.set(name, value);
            this.added.push(name);
          }
        }
      }
      out += value;
      for (const ch of value) {
        if (input[j] !== ch) return undefined;
        j++;
      }
    }
    return { out, icase };
  }

  /**
   * How many leading pattern elements matched; Infinity when all did (and, unless `prefix`,
   * nothing is left of `args`). With `prefix` (tagged replies, untagged OK/NO/BAD/BYE: text
   * follows) the last element needs only begin the response's argument.
   */
  matchArgs(match: readonly ImapArg[], args: readonly ImapArg[], max = Infinity, prefix = false): number {
    let k = 0;
    let a = 0;
    for (; k < match.length && max > 0; k++, a++, max--) {
      const m = match[k];
      const arg = args[a];
      if (m.t === 'nil') {
        if (arg?.t !== 'nil') return k;
      } else if (m.t === 'list') {
        if (arg?.t !== 'list') return k;
        const sub = this.matchList(m.v, arg.v);
        if (sub !== Infinity) return k + sub;
      } else {
        if (m.v === '$' && arg?.t === 'list') continue;
        const s = astring(arg);
        if (s === undefined) return k;
        const e = this.expandInput(m.v, s);
        if (!e) return k;
        const same = (x: string, y: string): boolean => (e.icase ? x.toUpperCase() === y.toUpperCase() : x === y);
        if (prefix && k === match.length - 1 ? !same(s.slice(0, e.out.length), e.out) : !same(s, e.out)) return k;
      }
    }
    return prefix || a >= args.length || max === 0 ? Infinity : k;
  }

  private matchList(pattern: readonly ImapArg[], args: readonly ImapArg[]): number {
    let unordered = false;
    let chain = 1;
    let noextra: boolean | undefined;
    const ignores: string[] = [];
    const bans: string[] = [];
    let k = 0;
    for (; k < pattern.length; k++) {
      const p = pattern[k];
      if (p.t !== 'atom' || !p.v.startsWith('$!')) break;
      const d = p.v.slice(2);
      if (d.startsWith('unordered')) {
        unordered = true;
        noextra ??= false;
        if (d[9] === '=') chain = Number(d.slice(10));
      } else if (d === 'ordered') unordered = false;
      else if (d === 'extra') noextra = false;
      else if (d === 'noextra') noextra = true;
      else if (d.startsWith('ignore=')) ignores.push(d.slice(7).toLowerCase());
      else if (d.startsWith('ban=')) bans.push(d.slice(4).toLowerCase());
      else throw new Error(`unknown directive ${p.v}`);
    }
    const match = pattern.slice(k);
    if (!unordered) return this.matchArgs(match, args);
    if (args.length % chain !== 0) return 0;
    const matched = new Set<number>();
    let ret = 0;
    for (let m = 0; m < match.length; m += chain, ret++) {
      let found = false;
      for (let i = 0; i < args.length; i += chain) {
        if (this.matchArgs(match.slice(m, m + chain), args.slice(i), chain) === Infinity) {
          matched.add(i);
          found = true;
          break;
        }
      }
      if (!found) return ret;
    }
    for (let i = 0; i < args.length; i += chain) {
      if (matched.has(i)) continue;
      const s = astring(args[i])?.toLowerCase();
      if (s === undefined) continue;
      if ((noextra ?? true) && !ignores.includes(s)) return ret;
      if (!(noextra ?? true) && bans.includes(s)) return ret;
    }
    return Infinity;
  }

  /** Tries a whole match; variables it set are undone when it fails. */
  tryMatch(match: readonly ImapArg[], args: readonly ImapArg[], prefix: boolean): number {
    this.added = [];
    const n = this.matchArgs(match, args, Infinity, prefix);
    if (n !== Infinity) for (const v of this.added) this.vars.delete(v);
    this.added = [];
    return n;
  }
}
