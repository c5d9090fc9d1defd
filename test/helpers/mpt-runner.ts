/**
 * @module mpt-runner
 * Runs a parsed James MPT script (mpt-script) against an IMAP server over real sockets: one
 * connection per SESSION, opened before the first step; steps for "every connection" run on
 * each in turn. Server lines are read as UTF-8, client lines sent as UTF-8 with CRLF.
 * Security: test only; connects to the given loopback port.
 * Limitations: REINIT reads the new greeting without checking it (and a suite's `until` step
 *   whatever lines come before the one it waits for); a missing line fails the
 *   script after the read timeout (10 s by default).
 */
import { LineClient } from './net.js';
import { matchLine, matchUnordered, optionalLine, sameExpunges, skippableUntagged, type MptStep, type OptionalCode } from './mpt-script.js';

export interface MptRunOptions {
  readonly port: number;
  readonly host?: string;
  /** connections to open */
  readonly sessions: number;
  /** per line read; a missing line fails the script */
  readonly readTimeoutMs?: number;
  /** codes this server may leave out of an expected untagged OK line (the line is then optional) */
  readonly optionalCodes?: readonly OptionalCode[];
}

/** What one run used: relaxation name → times. */
export type RelaxationCounts = Map<string, number>;

class MptConnection {
  /** a line read for an optional expectation it did not meet, for the next step */
  private held: string | undefined;
  readonly transcript: string[] = [];
  constructor(
    private client: LineClient,
    private readonly timeoutMs: number,
  ) {}

  static async open(port: number, host: string, timeoutMs: number): Promise<MptConnection> {
    return new MptConnection(await LineClient.connect(port, host), timeoutMs);
  }

  async reopen(port: number, host: string): Promise<void> {
    this.client.close();
    this.held = undefined;
    this.client = await LineClient.connect(port, host);
    this.transcript.push('-- reinit');
  }

  send(text: string): void {
    this.transcript.push(`C: ${text}`);
    this.client.write(Buffer.from(`${text}\r\n`, 'utf8'));
  }

  async read(): Promise<string | undefined> {
    if (this.held !== undefined) {
      const l = this.held;
      this.held = undefined;
      return l;
    }
    let raw: string | undefined;
    try {
      raw = await this.client.readLine(this.timeoutMs);
    } catch {
      throw new MptTimeout();
    }
    if (raw === undefined) return undefined;
    const line = Buffer.from(raw, 'latin1').toString('utf8');
    this.transcript.push(`S: ${line}`);
    return line;
  }

  hold(line: string): void {
    this.held = line;
  }

  close(): void {
    this.client.close();
  }
}

/** Thrown when the server's answer does not fit the script; names the script line. */
export class MptMismatch extends Error {}

class MptTimeout extends Error {}

function fail(name: string, line: number, what: string, conn: MptConnection): never {
  const tail = conn.transcript.slice(-12).join('\n  ');
  throw new MptMismatch(`${name}:${line}: ${what}\n  last lines:\n  ${tail}`);
}

function count(counts: RelaxationCounts, names: readonly string[]): void {
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
}

async function runStep(step: MptStep, conn: MptConnection, name: string, opts: MptRunOptions, counts: RelaxationCounts): Promise<void> {
  switch (step.op) {
    case 'send':
      conn.send(step.text);
      return;
    case 'reinit':
      await conn.reopen(opts.port, opts.host ?? '127.0.0.1');
      if ((await conn.read()) === undefined) fail(name, step.line, 'no greeting after REINIT', conn);
      return;
    case 'until':
      for (;;) {
        const l = await conn.read();
        if (l === undefined) fail(name, step.line, `connection closed; expected /${step.pattern}/`, conn);
        const m = matchLine(step.pattern, l);
        if (m.ok) return count(counts, m.relaxed);
      }
    case 'continuation': {
      const l = await conn.read();
      if (l === undefined || !l.startsWith('+')) fail(name, step.line, `expected a continuation request, got ${JSON.stringify(l)}`, conn);
      return;
    }
    case 'expect': {
      let l = await conn.read();
      if (l === undefined) fail(name, step.line, `connection closed; expected /${step.pattern}/`, conn);
      let m = matchLine(step.pattern, l);
      for (let skip = skippableUntagged(step.pattern, l); !m.ok && skip; skip = skippableUntagged(step.pattern, l)) {
        count(counts, [skip]);
        l = await conn.read();
        if (l === undefined) fail(name, step.line, `connection closed; expected /${step.pattern}/`, conn);
        m = matchLine(step.pattern, l);
      }
      if (m.ok) return count(counts, m.relaxed);
      const optional = optionalLine(step.pattern, opts.optionalCodes);
      if (optional) {
        conn.hold(l);
        return count(counts, [optional]);
      }
      fail(name, step.line, `expected /${step.pattern}/, got ${JSON.stringify(l)}`, conn);
      return;
    }
    case 'expunges': {
      const lines: string[] = [];
      while (lines.length < step.numbers.length) {
        const l = await conn.read();
        if (l === undefined) fail(name, step.line, `connection closed; expected ${step.numbers.length} EXPUNGE lines`, conn);
        const skip = skippableUntagged('', l);
        if (skip) count(counts, [skip]);
        else lines.push(l);
      }
      if (lines.join() === step.numbers.map((n) => `* ${n} EXPUNGE`).join()) return;
      if (!sameExpunges(step.numbers, lines)) fail(name, step.line, `expected EXPUNGE ${step.numbers.join(' ')}, got ${JSON.stringify(lines)}`, conn);
      return count(counts, ['expunge-order']);
    }
    case 'unordered': {
      const optional = (p: { pattern: string }): string | undefined => optionalLine(p.pattern, opts.optionalCodes);
      const required = step.patterns.filter((p) => !optional(p));
      const lines: string[] = [];
      while (lines.length < required.length) {
        const l = await conn.read();
        if (l === undefined) fail(name, step.line, `connection closed inside SUB block after ${lines.length} lines`, conn);
        // a line meeting an optional pattern (a code we never send) is not one of the block's
        if (step.patterns.some((p) => optional(p) && matchLine(p.pattern, l).ok)) continue;
        // an untagged OK with a code no line of the block meets (Dovecot's [CLOSED] in a SELECT): as for one expected line
        if (skippableUntagged('', l) === 'untagged-ok' && !step.patterns.some((p) => matchLine(p.pattern, l).ok)) {
          count(counts, ['untagged-ok']);
          continue;
        }
        lines.push(l);
      }
      const used = matchUnordered(
        required.map((p) => p.pattern),
        lines,
      );
      if (!used) fail(name, step.line, `SUB block: ${JSON.stringify(lines)} do not meet ${JSON.stringify(required.map((p) => p.pattern))}`, conn);
      for (const p of step.patterns) if (optional(p)) used.push(optional(p)!);
      if (step.relaxed) used.push(step.relaxed);
      return count(counts, used);
    }
  }
}

/** Runs the steps; throws MptMismatch at the first line that does not fit. */
export async function runMpt(name: string, steps: readonly MptStep[], opts: MptRunOptions): Promise<RelaxationCounts> {
  const counts: RelaxationCounts = new Map();
  const conns: MptConnection[] = [];
  try {
    for (let i = 0; i < opts.sessions; i++) conns.push(await MptConnection.open(opts.port, opts.host ?? '127.0.0.1', opts.readTimeoutMs ?? 10_000));
    for (const step of steps) {
      const targets = step.session < 0 ? conns : [conns[step.session]];
      for (const conn of targets) {
        try {
          await runStep(step, conn, name, opts, counts);
        } catch (e) {
          if (e instanceof MptTimeout) fail(name, step.line, 'no line from the server in time', conn);
          throw e;
        }
      }
    }
    return counts;
  } finally {
    for (const c of conns) c.close();
  }
}
