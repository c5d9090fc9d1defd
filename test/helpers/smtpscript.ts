/**
 * @module smtpscript
 * A small interpreter for OpenSMTPD's `smtpscript` regress language (regress/bin/parse.y and
 * smtpscript.c of OpenSMTPD, 2012-2019), so its black-box SMTP scripts run against correio.
 * Standards: the language as OpenSMTPD's lexer and runner define it:
 *   - `writeln "..."` sends the string and CRLF; `write "..."` sends it as is. A newline inside a
 *     quoted string is dropped (the lexer skips it), `\"` is a quote, `\<newline>` continues.
 *   - `expect smtp` accepts any reply, multi-line allowed; `expect smtp ok` a single-line 2xx/3xx;
 *     `expect smtp helo` a 2xx/3xx, multi-line allowed; `tempfail` a single-line 4xx; `permfail`
 *     a single-line 5xx. Reply lines must be printable and start with a code 2xx-5xx.
 *   - `expect disconnect`: no input left and the server closes the connection.
 *   - `repeat N stmt`, `random { ... }` (one statement at random), `{ ... }` blocks, `proc NAME
 *     %param... { }` with `call NAME`, `noop`, `sleep N[s|m|h]` (milliseconds), `fail "why"`,
 *     `connect "host" port N`, `disconnect`, `starttls`.
 *   - `test-case [name "x"] [no-autoconnect] [expect fail] [skip] { ... }`; a case without a name
 *     is called "<file:line>". Each case opens a fresh connection unless no-autoconnect.
 * Security: test code; connects only where the caller's `target` maps it (loopback).
 * Limitations: `include` and `$macro` variables are parsed as unsupported (no script uses them);
 *   a case containing an unsupported statement is reported as skipped with the reason.
 */
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';

export type ReplyClass = 'ok' | 'tempfail' | 'permfail';

export type Step =
  | { kind: 'block'; steps: Step[] }
  | { kind: 'repeat'; count: number; step: Step }
  | { kind: 'random'; steps: Step[] }
  | { kind: 'noop' }
  | { kind: 'fail'; reason: string }
  | { kind: 'call'; proc: string }
  | { kind: 'connect'; host: string; port: number }
  | { kind: 'disconnect' }
  | { kind: 'starttls' }
  | { kind: 'sleep'; ms: number }
  | { kind: 'write'; data: string }
  | { kind: 'expect-disconnect' }
  | { kind: 'expect-smtp'; accept: readonly ReplyClass[]; multiline: boolean; what: string }
  | { kind: 'unsupported'; what: string; line: number };

export interface Proc {
  readonly name: string;
  readonly params: readonly string[];
  readonly body: Step;
}

export interface TestCase {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly noAutoconnect: boolean;
  readonly expectFail: boolean;
  readonly skip: boolean;
  readonly body: Step;
}

export interface Script {
  readonly file: string;
  readonly procs: ReadonlyMap<string, Proc>;
  readonly cases: readonly TestCase[];
}

// ---- lexer (after parse.y's yylex) ----

type Token =
  | { t: 'nl'; line: number }
  | { t: 'str'; v: string; quoted: boolean; line: number }
  | { t: 'num'; v: number; line: number }
  | { t: 'ch'; v: string; line: number }
  | { t: 'eof'; line: number };

const KEYWORDS = new Set([
  'call', 'connect', 'disconnect', 'expect', 'fail', 'helo', 'name', 'no-autoconnect', 'noop', 'ok',
  'permfail', 'port', 'proc', 'random', 'repeat', 'skip', 'sleep', 'smtp', 'starttls', 'tempfail',
  'test-case', 'write', 'writeln', 'include',
]);

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}
/** parse.y allowed_in_string: alnum or punctuation other than ( ) { } < > ! = # , */
function allowedInString(c: string): boolean {
  return isAlnum(c) || (/^[!-/:-@[-`{-~]$/.test(c) && !'(){}<>!=#,'.includes(c));
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      line++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '\n') {
      out.push({ t: 'nl', line });
      line++;
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = line;
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`line ${start}: unterminated string`);
        const d = text[i];
        if (d === '\n') {
          // the lexer drops a newline inside a quoted string
          line++;
          i++;
          continue;
        }
        if (d === '\\') {
          const next = text[i + 1];
          if (next === c) {
            v += c;
            i += 2;
            continue;
          }
          if (next === '\n') {
            line++;
            i += 2;
            continue;
          }
          v += '\\';
          i++;
          continue;
        }
        if (d === c) {
          i++;
          break;
        }
        v += d;
        i++;
      }
      out.push({ t: 'str', v, quoted: true, line: start });
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9]/.test(text[j])) j++;
      const end = text[j];
      if (end === undefined || /\s/.test(end) || ')},/}='.includes(end)) {
        out.push({ t: 'num', v: Number(text.slice(i, j)), line });
        i = j;
        continue;
      }
    }
    if (isAlnum(c) || c === ':' || c === '_') {
      let j = i + 1;
      while (j < text.length && allowedInString(text[j])) j++;
      out.push({ t: 'str', v: text.slice(i, j), quoted: false, line });
      i = j;
      continue;
    }
    out.push({ t: 'ch', v: c, line });
    i++;
  }
  out.push({ t: 'eof', line });
  return out;
}

// ---- parser (after parse.y's grammar) ----

class Parser {
  private pos = 0;
  readonly procs = new Map<string, Proc>();
  readonly cases: TestCase[] = [];
  constructor(
    private readonly toks: Token[],
    private readonly file: string,
  ) {}

  private peek(): Token {
    return this.toks[this.pos];
  }
  private next(): Token {
    return this.toks[this.pos++];
  }
  private isWord(tok: Token, w: string): boolean {
    return tok.t === 'str' && !tok.quoted && tok.v === w;
  }
  private isCh(tok: Token, c: string): boolean {
    return tok.t === 'ch' && tok.v === c;
  }
  private fail(tok: Token, why: string): never {
    throw new Error(`${this.file}:${tok.line}: ${why}`);
  }
  private word(w: string): boolean {
    if (this.isWord(this.peek(), w)) {
      this.pos++;
      return true;
    }
    return false;
  }
  private string(): string {
    const tok = this.next();
    if (tok.t !== 'str' || (!tok.quoted && KEYWORDS.has(tok.v))) this.fail(tok, 'expected a string');
    return tok.v;
  }
  private number(): number {
    const tok = this.next();
    if (tok.t !== 'num') this.fail(tok, 'expected a number');
    return tok.v;
  }
  private skipNl(): void {
    while (this.peek().t === 'nl') this.pos++;
  }
  private skipLine(): void {
    while (this.peek().t !== 'nl' && this.peek().t !== 'eof') this.pos++;
  }

  parse(): void {
    for (;;) {
      this.skipNl();
      const tok = this.peek();
      if (tok.t === 'eof') return;
      if (this.word('proc')) {
        const name = this.string();
        const params: string[] = [];
        while (this.isCh(this.peek(), '%')) {
          this.pos++;
          params.push(this.string());
        }
        this.procs.set(name, { name, params, body: this.block() });
      } else if (this.word('test-case')) {
        let name = `<${this.file}:${tok.line}>`;
        if (this.word('name')) name = this.string();
        const noAutoconnect = this.word('no-autoconnect');
        let expectFail = false;
        if (this.isWord(this.peek(), 'expect') && this.isWord(this.toks[this.pos + 1], 'fail')) {
          this.pos += 2;
          expectFail = true;
        }
        const skip = this.word('skip');
        this.cases.push({ name, file: this.file, line: tok.line, noAutoconnect, expectFail, skip, body: this.block() });
      } else this.fail(tok, `unexpected ${tok.t === 'str' || tok.t === 'ch' ? tok.v : tok.t} at top level`);
    }
  }

  private block(): Step {
    if (!this.isCh(this.next(), '{')) this.fail(this.toks[this.pos - 1], 'expected "{"');
    const steps: Step[] = [];
    for (;;) {
      this.skipNl();
      if (this.isCh(this.peek(), '}')) {
        this.pos++;
        return { kind: 'block', steps };
      }
      steps.push(this.statement());
      const after = this.peek();
      if (!(after.t === 'nl' || this.isCh(after, '}'))) this.fail(after, 'expected end of line');
    }
  }

  private statement(): Step {
    const tok = this.peek();
    if (this.isCh(tok, '{')) return this.block();
    if (tok.t !== 'str' || tok.quoted) {
      this.skipLine();
      return { kind: 'unsupported', what: `unexpected token at line ${tok.line}`, line: tok.line };
    }
    this.pos++;
    switch (tok.v) {
      case 'repeat': {
        const count = this.number();
        return { kind: 'repeat', count, step: this.statement() };
      }
      case 'random': {
        const b = this.block();
        return { kind: 'random', steps: b.kind === 'block' ? b.steps : [] };
      }
      case 'call':
        return { kind: 'call', proc: this.string() };
      case 'noop':
        return { kind: 'noop' };
      case 'sleep': {
        let ms = this.number();
        const q = this.peek();
        if (q.t === 'str' && !q.quoted && ['s', 'm', 'h'].includes(q.v)) {
          this.pos++;
          ms *= q.v === 's' ? 1000 : q.v === 'm' ? 60_000 : 3_600_000;
        }
        return { kind: 'sleep', ms };
      }
      case 'fail':
        return { kind: 'fail', reason: this.string() };
      case 'connect': {
        const host = this.string();
        let port = 25;
        if (this.word('port')) port = this.number();
        return { kind: 'connect', host, port };
      }
      case 'disconnect':
        return { kind: 'disconnect' };
      case 'starttls':
        return { kind: 'starttls' };
      case 'write':
        return { kind: 'write', data: this.string() };
      case 'writeln':
        return { kind: 'write', data: this.string() + '\r\n' };
      case 'expect': {
        if (this.word('disconnect')) return { kind: 'expect-disconnect' };
        if (!this.word('smtp')) break;
        if (this.word('ok')) return { kind: 'expect-smtp', accept: ['ok'], multiline: false, what: 'ok' };
        if (this.word('helo')) return { kind: 'expect-smtp', accept: ['ok'], multiline: true, what: 'helo' };
        if (this.word('tempfail')) return { kind: 'expect-smtp', accept: ['tempfail'], multiline: false, what: 'tempfail' };
        if (this.word('permfail')) return { kind: 'expect-smtp', accept: ['permfail'], multiline: false, what: 'permfail' };
        return { kind: 'expect-smtp', accept: ['ok', 'tempfail', 'permfail'], multiline: true, what: 'any' };
      }
      default:
        break;
    }
    this.pos--;
    const start = this.peek();
    this.skipLine();
    return { kind: 'unsupported', what: `"${start.t === 'str' ? start.v : start.t}" at line ${start.line}`, line: start.line };
  }
}

/** Parses a script; throws on a grammar error (naming file and line). */
export function parseSmtpScript(text: string, file: string): Script {
  const p = new Parser(tokenize(text), file);
  p.parse();
  return { file, procs: p.procs, cases: p.cases };
}

/** The first unsupported statement a case reaches (through its procs), if any. */
function unsupportedStep(script: Script, tc: TestCase): string | undefined {
  const seen = new Set<string>();
  const walk = (s: Step): string | undefined => {
    switch (s.kind) {
      case 'unsupported':
        return s.what;
      case 'block':
      case 'random':
        for (const c of s.steps) {
          const r = walk(c);
          if (r) return r;
        }
        return undefined;
      case 'repeat':
        return walk(s.step);
      case 'call': {
        const p = script.procs.get(s.proc);
        if (!p) return `call to undefined proc "${s.proc}"`;
        if (seen.has(s.proc)) return undefined;
        seen.add(s.proc);
        return walk(p.body);
      }
      default:
        return undefined;
    }
  };
  return walk(tc.body);
}

// ---- runner (after smtpscript.c's process_op) ----

export type Verdict = 'pass' | 'fail' | 'error' | 'skip';

export interface CaseResult {
  /** the case's verdict after `expect fail` is applied, as OpenSMTPD's runner counts it */
  readonly verdict: Verdict;
  /** the raw outcome before `expect fail` */
  readonly outcome: 'ok' | 'fail' | 'error' | 'skip';
  readonly reason?: string;
  /** the dialogue: "C: line", "S: line", "-- event" */
  readonly transcript: readonly string[];
  /** last line of each reply read by an `expect smtp`, and "disconnect" for each close seen */
  readonly replies: readonly string[];
}

export interface RunOptions {
  /** where a connect goes: the default auto-connect is to 127.0.0.1 port 25 */
  target(host: string, port: number): { host: string; port: number };
  /** ms to wait for a reply or a close before failing (default 10000) */
  timeoutMs?: number;
  /**
   * Record mode: `expect smtp` never fails on the reply class, and `expect disconnect` records
   * what came instead; used to assert a server's own answers where it deliberately differs.
   */
  record?: boolean;
}

class CaseFailure extends Error {
  constructor(
    readonly res: 'fail' | 'error',
    message: string,
  ) {
    super(message);
  }
}

class Conn {
  private buf = '';
  private closed = false;
  private waiters: (() => void)[] = [];
  constructor(public sock: net.Socket) {
    this.listen(sock);
  }
  private listen(s: net.Socket): void {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    const gone = (): void => {
      this.closed = true;
      this.wake();
    };
    s.on('end', gone);
    s.on('close', gone);
    s.on('error', gone);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  get pending(): number {
    return this.buf.length;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  async wait(timeoutMs: number): Promise<boolean> {
    if (this.closed) return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
  /** a line without its LF (and CR), or undefined when none is complete */
  takeLine(): string | undefined {
    const i = this.buf.indexOf('\n');
    if (i < 0) return undefined;
    const line = this.buf.slice(0, i).replace(/\r$/, '');
    this.buf = this.buf.slice(i + 1);
    return line;
  }
  takeAll(): string {
    const b = this.buf;
    this.buf = '';
    return b;
  }
  async write(data: string): Promise<void> {
    if (this.closed || this.sock.destroyed) throw new CaseFailure('fail', 'connection closed');
    await new Promise<void>((resolve, reject) =>
      this.sock.write(data, 'latin1', (err) => (err ? reject(new CaseFailure('fail', 'connection closed')) : resolve())),
    );
  }
  async startTls(timeoutMs: number): Promise<void> {
    const raw = this.sock;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('close');
    const t = tls.connect({ socket: raw, rejectUnauthorized: false, servername: undefined });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CaseFailure('error', 'SSL connection failed: timeout')), timeoutMs);
      t.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      t.once('error', (e) => {
        clearTimeout(timer);
        reject(new CaseFailure('error', `SSL connection failed: ${e.message}`));
      });
    });
    this.sock = t;
    this.listen(t);
  }
  close(): void {
    this.sock.destroy();
  }
}

function classOf(code: string): ReplyClass {
  return code[0] === '4' ? 'tempfail' : code[0] === '5' ? 'permfail' : 'ok';
}

/** Runs one test case against the server `opts.target` maps the script's connects to. */
export async function runTestCase(script: Script, tc: TestCase, opts: RunOptions): Promise<CaseResult> {
  const transcript: string[] = [];
  const replies: string[] = [];
  const timeoutMs = opts.timeoutMs ?? 10_000;
  if (tc.skip) return { verdict: 'skip', outcome: 'skip', reason: 'marked skip', transcript, replies };
  const unsupported = unsupportedStep(script, tc);
  if (unsupported) return { verdict: 'skip', outcome: 'skip', reason: `unsupported: ${unsupported}`, transcript, replies };
  let conn: Conn | undefined;
  let tlsActive = false;

  const connect = async (host: string, port: number): Promise<void> => {
    conn?.close();
    tlsActive = false;
    const t = opts.target(host, port);
    transcript.push(`-- connect ${host}:${port} (${t.host}:${t.port})`);
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: t.host, port: t.port }, () => resolve(s));
      s.once('error', (e) => reject(new CaseFailure('error', `failed to connect to ${host}:${port}: ${e.message}`)));
    });
    conn = new Conn(sock);
  };
  const need = (): Conn => {
    if (!conn) throw new CaseFailure('error', 'not connected');
    return conn;
  };

  const readReply = async (c: Conn, step: { multiline: boolean }): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = c.takeLine();
      if (line !== undefined) {
        transcript.push(`S: ${line}`);
        if (line.length < 3) throw new CaseFailure('fail', 'line too short');
        if (!/^[2-5][0-9][0-9]/.test(line)) throw new CaseFailure('fail', `reply code out of range: ${line}`);
        if (/[^\x20-\x7e]/.test(line)) throw new CaseFailure('fail', `non-printable character in reply: ${JSON.stringify(line)}`);
        if (line[3] !== '-') return line;
        if (!step.multiline && !opts.record) throw new CaseFailure('fail', `single line response expected: ${line}`);
        continue;
      }
      if (c.isClosed) throw new CaseFailure('fail', 'connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new CaseFailure('fail', `no reply within ${timeoutMs} ms`);
      await c.wait(left);
    }
  };

  const run = async (step: Step): Promise<void> => {
    switch (step.kind) {
      case 'block':
        for (const s of step.steps) await run(s);
        return;
      case 'repeat':
        for (let i = 0; i < step.count; i++) await run(step.step);
        return;
      case 'random':
        if (step.steps.length > 0) await run(step.steps[Math.floor(Math.random() * step.steps.length)]);
        return;
      case 'noop':
        return;
      case 'fail':
        throw new CaseFailure('fail', step.reason);
      case 'call': {
        const p = script.procs.get(step.proc);
        if (!p) throw new CaseFailure('error', `call to undefined proc "${step.proc}"`);
        await run(p.body);
        return;
      }
      case 'connect':
        await connect(step.host, step.port);
        return;
      case 'disconnect':
        conn?.close();
        conn = undefined;
        transcript.push('-- disconnect');
        return;
      case 'starttls':
        if (tlsActive) throw new CaseFailure('error', 'SSL context already here');
        transcript.push('-- starttls');
        await need().startTls(timeoutMs);
        tlsActive = true;
        return;
      case 'sleep':
        await sleep(step.ms);
        return;
      case 'write':
        transcript.push(...step.data.replace(/\r\n$/, '').split('\r\n').map((l) => `C: ${l}`));
        await need().write(step.data);
        return;
      case 'expect-disconnect': {
        const c = need();
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if (c.pending > 0) {
            const data = c.takeAll();
            transcript.push(...data.replace(/\r?\n$/, '').split(/\r?\n/).map((l) => `S: ${l}`));
            if (!opts.record) throw new CaseFailure('fail', `data read: ${JSON.stringify(data)}`);
            for (const l of data.split(/\r?\n/)) if (/^\d{3} /.test(l)) replies.push(l);
            continue;
          }
          if (c.isClosed) {
            transcript.push('-- disconnected');
            replies.push('disconnect');
            conn = undefined;
            return;
          }
          const left = deadline - Date.now();
          if (left <= 0) {
            if (opts.record) {
              replies.push('open');
              return;
            }
            throw new CaseFailure('fail', `no disconnect within ${timeoutMs} ms`);
          }
          await c.wait(left);
        }
      }
      case 'expect-smtp': {
        const line = await readReply(need(), step);
        replies.push(line);
        if (!opts.record && !step.accept.includes(classOf(line))) {
          throw new CaseFailure('fail', `unexpected response (wanted ${step.what}): ${line}`);
        }
        return;
      }
      case 'unsupported':
        throw new CaseFailure('error', `unsupported: ${step.what}`);
    }
  };

  let outcome: CaseResult['outcome'] = 'ok';
  let reason: string | undefined;
  try {
    if (!tc.noAutoconnect) await connect('127.0.0.1', 25);
    await run(tc.body);
  } catch (err) {
    if (err instanceof CaseFailure) {
      outcome = err.res;
      reason = err.message;
    } else {
      outcome = 'error';
      reason = err instanceof Error ? err.message : String(err);
    }
  } finally {
    conn?.close();
  }
  let verdict: Verdict;
  if (outcome === 'ok') verdict = tc.expectFail ? 'fail' : 'pass';
  else if (outcome === 'fail') verdict = tc.expectFail ? 'pass' : 'fail';
  else verdict = 'error';
  if (outcome === 'ok' && tc.expectFail) reason = 'should have failed';
  return { verdict, outcome, reason, transcript, replies };
}
