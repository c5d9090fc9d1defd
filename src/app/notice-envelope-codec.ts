/**
 * @module notice-envelope-codec
 * The envelopes of an acceptor's notice (acceptor-notice.ts), coded by hand: `Builder` gathers
 * a header's numbers, codes and strings as the coder writes them (an envelope's fields as intake
 * makes them by flags, anything else of it as JSON), `Decoder` reads them back from a header's
 * regions. The frame, the header's layout and its places, bodies and events are
 * acceptor-notice.ts's; this module is the part of its codec that knows an envelope.
 * Standards: none.
 * Security: a header that does not decode (a read past its region, flags or a code it does not
 *   know, a length past its text, a rest that is not an object) throws an error naming it, never
 *   a crash; acceptor-notice.ts ends the pipe's reading with it.
 * Limitations: both processes run the same build (nothing is translated between layouts). A
 *   decoded envelope holds as much heap as one from JSON.parse: an ASCII envelope's strings are
 *   copied out one by one, the short ones (at most 16 characters) shared through a map of at most
 *   4,096 as JSON.parse shares them; a non-ASCII envelope's strings of 13 characters or more are
 *   V8 slices of the text of its own strings.
 */
import { envelopeStates, type Address, type Envelope } from '../core/index.js';

/** Envelope fields coded by hand, a bit each in the envelope's flags (the rest goes as JSON). */
const F = {
  id: 1, messageId: 2, sender: 4, nullSender: 8, recipient: 16, originalRecipient: 32, route: 64, arrivedAt: 128,
  size: 256, attempts: 512, nextAttemptAt: 1024, dsn: 2048, body: 4096, smtpUtf8: 8192, state: 16384, held: 32768,
  resolvedVia: 65536, rest: 131072,
} as const;
/** the fields coded by hand, as they are named in an envelope (each coded only when its value fits) */
const coded = new Set(['id', 'messageId', 'sender', 'recipient', 'originalRecipient', 'route', 'arrivedAt', 'size', 'attempts', 'nextAttemptAt', 'dsn', 'body', 'smtpUtf8', 'state', 'held', 'resolvedVia']);
const allFlags = 2 * F.rest - 1;
/** added to an envelope's octets of text when they are all ASCII (a frame part is under 2^28 octets) */
export const asciiMark = 2 ** 31;
/** the fields of every envelope intake makes (Decoder.#common) */
const common = F.id | F.messageId | F.sender | F.recipient | F.originalRecipient | F.route | F.arrivedAt | F.size | F.attempts | F.nextAttemptAt | F.dsn | F.smtpUtf8 | F.state | F.resolvedVia;
const bodyTypes: readonly string[] = ['7BIT', '8BITMIME', 'BINARYMIME'];
const states: readonly string[] = envelopeStates;

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** an object with exactly these string fields (what JSON would carry as it is) */
function hasOnly(v: unknown, a: string, b: string): boolean {
  if (!isRecord(v) || typeof v[a] !== 'string' || typeof v[b] !== 'string') return false;
  let n = 0;
  for (const k in v) if (Object.hasOwn(v, k) && v[k] !== undefined) n++;
  return n === 2;
}
const isEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length === 0;
function isEmptyObject(v: unknown): boolean {
  if (!isRecord(v) || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) if (Object.hasOwn(v, k) && v[k] !== undefined) return false;
  return true;
}

/** What a header is built from before it is written. */
export class Builder {
  readonly numbers: number[] = [];
  readonly ints: number[] = [];
  readonly texts: string[] = [];
  /** each envelope's strings, a text of their own: [its octets' place in ints, its first and end in texts] */
  readonly own: [number, number, number][] = [];

  str(s: string): void {
    this.texts.push(s);
    this.ints.push(s.length);
  }

  address(a: Address): void {
    this.str(a.local);
    this.str(a.domain);
  }

  envelope(e: Envelope): void {
    let f = 0;
    const octetsAt = this.ints.length;
    const first = this.texts.length;
    const at = octetsAt + 1;
    this.ints.push(0, 0);
    if (typeof e.id === 'string') {
      f |= F.id;
      this.str(e.id);
    }
    if (typeof e.messageId === 'string') {
      f |= F.messageId;
      this.str(e.messageId);
    }
    if (e.sender === null) f |= F.sender | F.nullSender;
    else if (hasOnly(e.sender, 'local', 'domain')) {
      f |= F.sender;
      this.address(e.sender);
    }
    if (hasOnly(e.recipient, 'local', 'domain')) {
      f |= F.recipient;
      this.address(e.recipient);
    }
    if (hasOnly(e.originalRecipient, 'local', 'domain')) {
      f |= F.originalRecipient;
      this.address(e.originalRecipient!);
    }
    if (hasOnly(e.route, 'transport', 'nextHop')) {
      f |= F.route;
      this.str(e.route.transport);
      this.str(e.route.nextHop);
    }
    if (Number.isFinite(e.arrivedAt)) {
      f |= F.arrivedAt;
      this.numbers.push(e.arrivedAt);
    }
    if (Number.isFinite(e.size)) {
      f |= F.size;
      this.numbers.push(e.size);
    }
    if (isEmptyArray(e.attempts)) f |= F.attempts;
    if (Number.isFinite(e.nextAttemptAt)) {
      f |= F.nextAttemptAt;
      this.numbers.push(e.nextAttemptAt);
    }
    if (isEmptyObject(e.dsn)) f |= F.dsn;
    if (typeof e.smtpUtf8 === 'boolean') {
      f |= F.smtpUtf8;
      this.ints.push(e.smtpUtf8 ? 1 : 0);
    }
    if (e.state !== undefined && states.includes(e.state)) {
      f |= F.state;
      this.ints.push(states.indexOf(e.state));
    }
    if (isEmptyArray(e.resolvedVia)) f |= F.resolvedVia;
    if (e.body !== undefined && bodyTypes.includes(e.body)) {
      f |= F.body;
      this.ints.push(bodyTypes.indexOf(e.body));
    }
    if (typeof e.held === 'boolean') {
      f |= F.held;
      this.ints.push(e.held ? 1 : 0);
    }
    // what is not coded above goes as JSON (a field whose value is undefined is left out, as JSON does)
    let rest: Record<string, unknown> | undefined;
    for (const k of Object.keys(e)) {
      const v = (e as unknown as Record<string, unknown>)[k];
      if (v === undefined || (coded.has(k) && isCoded(k, f))) continue;
      rest ??= {};
      rest[k] = v;
    }
    if (rest) {
      f |= F.rest;
      this.str(JSON.stringify(rest));
    }
    this.ints[at] = f;
    this.own.push([octetsAt, first, this.texts.length]);
  }
}

/** Whether field `k` (one of `coded`) was coded by hand in flags `f`. */
function isCoded(k: string, f: number): boolean {
  return (f & F[k as keyof typeof F]) !== 0;
}

/**
 * Short strings (a domain, a local part, a transport) once each, as JSON.parse shares them (it
 * internalises short values): a queued envelope then holds no copy of its own of each. Emptied
 * when full, so it holds at most `sharedMax` of them.
 */
const sharedStrings = new Map<string, string>();
const shortString = 16;
const sharedMax = 4096;
function shared(s: string): string {
  const known = sharedStrings.get(s);
  if (known !== undefined) return known;
  if (sharedStrings.size >= sharedMax) sharedStrings.clear();
  sharedStrings.set(s, s);
  return s;
}

/** A header being read: every read past its region, or of a code it does not know, throws. */
export class Decoder {
  /** where the next number, code and string are */
  #n: number;
  #i: number;
  /** the text strings are cut from now (an envelope's own, then the places' and bodies'), and the next octet of the header's */
  #text = '';
  #t = 0;
  /** the text now is ASCII, read string by string from the buffer (#t is then an octet), up to #asciiEnd */
  #ascii = false;
  #asciiEnd = 0;
  #octet: number;

  constructor(readonly buf: Buffer, numbersAt: number, readonly intsAt: number, readonly intsEnd: number, textAt: number, readonly textEnd: number) {
    this.#n = numbersAt;
    this.#i = intsAt;
    this.#octet = textAt;
  }

  /**
   * Goes on to the next `octets` of the header's text (all that is left when undefined); an
   * envelope's text all ASCII (`ascii`: its octets are its characters) is not decoded as one:
   * each string is copied out of the buffer by itself, so that none is a slice keeping the text.
   */
  next(octets = this.textEnd - this.#octet, ascii = false): void {
    if (this.#t !== (this.#ascii ? this.#asciiEnd : this.#text.length)) throw new Error('notice header: its lengths and its text disagree');
    if (this.#octet + octets > this.textEnd) throw new Error('notice header: a text past the end of the strings');
    this.#ascii = ascii;
    if (ascii) {
      this.#t = this.#octet;
      this.#asciiEnd = this.#octet += octets;
      return;
    }
    this.#text = this.buf.toString('utf8', this.#octet, (this.#octet += octets));
    this.#t = 0;
  }

  int(): number {
    if (this.#i >= this.intsEnd) throw new Error('notice header: fewer codes than it says');
    const v = this.buf.readUInt32LE(this.#i);
    this.#i += 4;
    return v;
  }

  num(): number {
    // the numbers end where the codes begin
    if (this.#n + 8 > this.intsAt) throw new Error('notice header: fewer numbers than it says');
    const v = this.buf.readDoubleLE(this.#n);
    this.#n += 8;
    return v;
  }

  str(): string {
    const n = this.int();
    if (this.#ascii) {
      if (this.#t + n > this.#asciiEnd) throw new Error('notice header: a string past the end of its text');
      const s = this.buf.toString('latin1', this.#t, (this.#t += n));
      return n <= shortString ? shared(s) : s;
    }
    if (this.#t + n > this.#text.length) throw new Error('notice header: a string past the end of its text');
    return this.#text.slice(this.#t, (this.#t += n));
  }

  oneOf(values: readonly string[], what: string): string {
    const i = this.int();
    if (i >= values.length) throw new Error(`notice header: ${what} ${i} unknown`);
    return values[i];
  }

  address(): Address {
    return { local: this.str(), domain: this.str() };
  }

  envelope(): Envelope {
    const octets = this.int();
    this.next(octets % asciiMark, octets >= asciiMark);
    const f = this.int();
    if ((f & ~allFlags) !== 0) throw new Error(`notice header: envelope flags ${f} unknown`);
    const usual = (f & common) === common && (f & F.nullSender) === 0;
    const e = usual ? this.#common(f) : this.#fields(f);
    if (f & F.body && !usual) e.body = this.oneOf(bodyTypes, 'body type');
    if (f & F.held) e.held = this.int() === 1;
    if (f & F.rest) {
      const more: unknown = JSON.parse(this.str());
      if (!isRecord(more)) throw new Error('notice header: an envelope\'s rest is not an object');
      Object.assign(e, more);
    }
    return e as unknown as Envelope;
  }

  /**
   * An envelope as intake makes it, in one object literal (one shape, its fields in the object:
   * built field by field, its fields went to a store of their own, grown twice), the fields in
   * the order the coder writes them.
   */
  #common(f: number): Record<string, unknown> {
    const id = this.str();
    const messageId = this.str();
    const sender = this.address();
    const recipient = this.address();
    const originalRecipient = this.address();
    const route = { transport: this.str(), nextHop: this.str() };
    const arrivedAt = this.num();
    const size = this.num();
    const nextAttemptAt = this.num();
    const smtpUtf8 = this.int() === 1;
    const state = this.oneOf(states, 'state');
    // with its body type in the literal too: added after, it went to a store of its own
    if ((f & F.body) === 0) return { id, messageId, sender, recipient, originalRecipient, route, arrivedAt, size, attempts: [], nextAttemptAt, dsn: {}, smtpUtf8, state, resolvedVia: [] };
    const body = this.oneOf(bodyTypes, 'body type');
    return { id, messageId, sender, recipient, originalRecipient, route, arrivedAt, size, attempts: [], nextAttemptAt, dsn: {}, smtpUtf8, state, resolvedVia: [], body };
  }

  /** Any other envelope, field by field. */
  #fields(f: number): Record<string, unknown> {
    const e: Record<string, unknown> = {};
    if (f & F.id) e.id = this.str();
    if (f & F.messageId) e.messageId = this.str();
    if (f & F.sender) e.sender = f & F.nullSender ? null : this.address();
    if (f & F.recipient) e.recipient = this.address();
    if (f & F.originalRecipient) e.originalRecipient = this.address();
    if (f & F.route) e.route = { transport: this.str(), nextHop: this.str() };
    if (f & F.arrivedAt) e.arrivedAt = this.num();
    if (f & F.size) e.size = this.num();
    if (f & F.attempts) e.attempts = [];
    if (f & F.nextAttemptAt) e.nextAttemptAt = this.num();
    if (f & F.dsn) e.dsn = {};
    if (f & F.smtpUtf8) e.smtpUtf8 = this.int() === 1;
    if (f & F.state) e.state = this.oneOf(states, 'state');
    if (f & F.resolvedVia) e.resolvedVia = [];
    return e;
  }

  /** every number, code and string used */
  done(): boolean {
    return this.#n === this.intsAt && this.#i === this.intsEnd && !this.#ascii && this.#t === this.#text.length && this.#octet === this.textEnd;
  }
}
