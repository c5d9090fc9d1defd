/**
 * @module runner
 * Runs one parsed imaptest script against a server: opens its connections, logs them in (a
 * PREAUTH greeting needs none), skips the script when the server lacks a capability it names,
 * deletes every `imaptest*` mailbox, creates `imaptest`, APPENDs the fixture's messages and
 * SELECTs it as the script's state asks, then sends each command group and checks its tagged
 * reply and untagged responses (matcher.ts); a LOGOUT ends it unless the script logs out.
 * Standards: RFC 9051 (the commands the setup sends: LOGIN, CAPABILITY, LIST, LSUB, DELETE,
 *   UNSUBSCRIBE, CREATE, APPEND, SELECT, LOGOUT).
 * Security: the server may be wrong in any way: every wait has a deadline, a failure is a
 *   message, never a throw.
 * Limitations: one test user (a script that needs a second is skipped).
 */
import { showArgs, type ImapArg } from './imap-args.js';
import { Connection, type ImapLink, type Outgoing } from './connection.js';
import { MatchState } from './matcher.js';
import type { MboxMessage } from './mbox.js';
import { startupOrder, type Script, type ScriptCommand, type ScriptGroup } from './script.js';

export interface RunOptions {
  /** opens one connection */
  readonly connect: () => Promise<ImapLink>;
  readonly user: string;
  readonly password: string;
  /** the test mailbox ($mailbox) */
  readonly mailbox?: string;
  /** per command group and setup step */
  readonly timeoutMs?: number;
}

export interface ScriptResult {
  readonly name: string;
  readonly outcome: 'pass' | 'fail' | 'skip';
  /** why it failed or was skipped */
  readonly details: string[];
}

const quote = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** The RFC 3986 path form of a mailbox name (modified UTF-7 decoded first), for $mailbox_url. */
function mailboxUrl(name: string): string {
  const utf8 = name.replace(/&([^-]*)-/g, (_, b: string) => (b === '' ? '&' : Buffer.from(b.replace(/,/g, '/'), 'base64').swap16().toString('utf16le')));
  return encodeURI(utf8).replace(/[;?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function atom(a: ImapArg | undefined): string | undefined {
  return a?.t === 'atom' ? a.v : undefined;
}

class Run {
  readonly state = new MatchState();
  readonly failures: string[] = [];
  conns: Connection[] = [];
  private next = 0;
  readonly mailbox: string;
  readonly timeout: number;

  constructor(
    readonly script: Script,
    readonly mbox: readonly MboxMessage[],
    readonly o: RunOptions,
  ) {
    this.mailbox = o.mailbox ?? 'imaptest';
    this.timeout = o.timeoutMs ?? 20_000;
    const at = o.user.indexOf('@');
    for (const [k, v] of Object.entries({ user: o.user, username: at < 0 ? o.user : o.user.slice(0, at), domain: at < 0 ? 'localhost' : o.user.slice(at + 1), password: o.password, mailbox: this.mailbox, mailbox_url: mailboxUrl(this.mailbox) })) this.state.vars.set(k, v);
  }

  /** The fixture's next message, wrapping around at its end. */
  nextMessage(): MboxMessage {
    const m = this.mbox[this.next % this.mbox.length];
    this.next++;
    return m;
  }

  appendOf(tag: string, head: string, m: MboxMessage): Outgoing {
    return { tag, chunks: [`${tag} ${head} {${Buffer.byteLength(m.data, 'latin1')}}\r\n`, `${m.data}\r\n`] };
  }

  /** Logs in, checks the capabilities and makes the starting state; a reason when it cannot. */
  async setup(): Promise<{ skip?: string; fail?: string }> {
    const s = this.script;
    const want = startupOrder.indexOf(s.state);
    if (s.needsSecondUser) return { skip: 'needs a second test user (user 2: $user2)' };
    for (let i = 0; i < s.connections; i++) {
      const c = new Connection(await this.o.connect(), String(i + 1));
      this.conns.push(c);
      const greeting = await c.next(Date.now() + this.timeout);
      if (greeting?.kind !== 'untagged') return { fail: `connection ${i + 1}: no greeting` };
      const preauth = /^preauth$/i.test(atom(greeting.args[0]) ?? '');
      if (want > 0 && !preauth) {
        const r = await c.command(`LOGIN ${quote(this.o.user)} ${quote(this.o.password)}`, this.timeout);
        if (r.status !== 'OK') return { fail: `LOGIN: ${r.error ?? showArgs(r.args)}` };
      }
    }
    const c = this.conns[0];
    const caps = await c.command('CAPABILITY', this.timeout);
    const have = new Set(caps.untagged.filter((u) => /^capability$/i.test(atom(u[0]) ?? '')).flatMap((u) => u.slice(1).map((a) => atom(a)?.toUpperCase() ?? '')));
    const missing = s.capabilities.filter((x) => !have.has(x.toUpperCase()));
    if (missing.length > 0) return { skip: `the server lacks ${missing.join(' ')}` };
    if (want < 1) return {};
    // every imaptest* mailbox goes, deepest first; subscriptions too
    const pattern = quote(`${this.mailbox}*`);
    const names = (r: { untagged: ImapArg[][] }, kind: string): string[] =>
      r.untagged.filter((u) => atom(u[0])?.toUpperCase() === kind && u[1]?.t === 'list').flatMap((u) => (u[3] && u[3].t !== 'list' && u[3].t !== 'nil' ? [u[3].v] : []));
    const listed = names(await c.command(`LIST "" ${pattern}`, this.timeout), 'LIST');
    const subscribed = names(await c.command(`LSUB "" ${pattern}`, this.timeout), 'LSUB');
    const reverse = (a: string, b: string): number => b.toLowerCase().localeCompare(a.toLowerCase());
    for (const n of listed.sort(reverse)) await c.command(`DELETE ${quote(n)}`, this.timeout);
    for (const n of subscribed.sort(reverse)) await c.command(`UNSUBSCRIBE ${quote(n)}`, this.timeout);
    if (want < 2) return {};
    const created = await c.command(`CREATE ${quote(this.mailbox)}`, this.timeout);
    if (created.status !== 'OK') return { fail: `CREATE: ${created.error ?? showArgs(created.args)}` };
    if (want < 3) return {};
    const count = s.messages === 'all' ? this.mbox.length : s.messages;
    for (let i = 0; i < count; i++) {
      const tag = c.nextTag();
      let status = '';
      const m = this.nextMessage();
      const err = await c.exchange([this.appendOf(tag, `APPEND ${quote(this.mailbox)} "${m.date}"`, m)], this.timeout, { tagged: (_t, a) => (status = atom(a[0]) ?? '') });
      if (err || status.toUpperCase() !== 'OK') return { fail: `APPEND of message ${i + 1}: ${err ?? status}` };
    }
    if (want < 4) return {};
    for (const conn of this.conns) {
      const r = await conn.command(`SELECT ${quote(this.mailbox)}`, this.timeout);
      if (r.status !== 'OK') return { fail: `SELECT: ${r.error ?? showArgs(r.args)}` };
    }
    return {};
  }

  /** A script command as chunks to send: variables expanded, literals as they are. */
  outgoing(tag: string, cmd: ScriptCommand): Outgoing {
    const chunks: string[] = [];
    let cur = `${tag} `;
    for (const p of cmd.parts) {
      if ('text' in p) cur += this.state.expand(p.text);
      else {
        chunks.push(`${cur}${p.binary ? '~' : ''}{${Buffer.byteLength(p.literal, 'latin1')}}\r\n`);
        cur = p.literal;
      }
    }
    const hasLiteral = cmd.parts.some((p) => 'literal' in p);
    const text = cur.slice(tag.length + 1);
    // "append" alone: the fixture's next message into $mailbox with its date; "append ARGS"
    // without a message: ARGS and the next message
    if (!hasLiteral && /^append$/i.test(text.trim())) {
      const m = this.nextMessage();
      return this.appendOf(tag, `APPEND ${quote(this.mailbox)} "${m.date}"`, m);
    }
    if (!hasLiteral && /^append /i.test(text) && !/ catenate /i.test(` ${text} `)) return this.appendOf(tag, text.trimEnd(), this.nextMessage());
    chunks.push(`${cur}\r\n`);
    return { tag, chunks };
  }

  async group(g: ScriptGroup, index: number): Promise<'go' | 'stop'> {
    const c = this.conns[g.conn];
    const where = `group ${index + 1} (line ${g.commands[0].line}: ${g.commands[0].parts.map((p) => ('text' in p ? p.text : '{…}')).join('')})`;
    const fail = (why: string): void => void this.failures.push(`${where}: ${why}`);
    this.state.startGroup(c.messages);
    const outs: Outgoing[] = [];
    try {
      for (const cmd of g.commands) outs.push(this.outgoing(c.nextTag(), cmd));
    } catch (e) {
      fail((e as Error).message);
      return 'go';
    }
    const byTag = new Map(outs.map((o, k) => [o.tag, g.commands[k]]));
    const found = g.untagged.map(() => false);
    const best = g.untagged.map(() => ({ n: -1, text: '' }));
    let extra: string | undefined;
    let mismatches = 0;
    const ignoreExtra = this.script.ignoreExtraUntagged;
    const untagged = (args: ImapArg[]): void => {
      if (g.untagged.length > 0 || !ignoreExtra) {
        const prefix = /^(ok|no|bad|bye)$/i.test(atom(args[0]) ?? '');
        this.state.vars.set('tag', outs[0].tag);
        let some = false;
        for (const [i, u] of g.untagged.entries()) {
          if (found[i]) continue;
          const n = this.state.tryMatch(u.args, args, prefix);
          if (n === Infinity) {
            if (u.existence === '!') fail(`unexpected untagged reply matching "${showArgs(u.args)}": ${showArgs(args)}`);
            found[i] = true;
            some = true;
            if (g.ordered) break;
            continue;
          }
          if (n > best[i].n) best[i] = { n, text: showArgs(args) };
          if (g.ordered && u.existence === '*') break;
        }
        this.state.vars.delete('tag');
        if (!some) {
          mismatches++;
          if (!ignoreExtra) extra ??= showArgs(args);
        }
      }
      // the sequence map follows EXPUNGEs after they were matched
      if (/^expunge$/i.test(atom(args[1]) ?? '') && /^\d+$/.test(atom(args[0]) ?? '')) this.state.expunged(Number(atom(args[0])));
    };
    const tagged = (tag: string, args: ImapArg[]): void => {
      const cmd = byTag.get(tag)!;
      this.state.vars.set('tag', tag);
      if (this.state.matchArgs(cmd.reply!, args, Infinity, true) !== Infinity) fail(`expected tagged "${showArgs(cmd.reply!)}", got "${showArgs(args)}"`);
      this.state.vars.delete('tag');
    };
    const err = await c.exchange(outs, this.timeout, { untagged, tagged });
    if (err) {
      const byeOk = err === 'unexpected disconnection' && g.expectsBye && c.sawBye;
      if (!byeOk) {
        fail(err);
        return 'stop';
      }
    }
    const missing = g.untagged.flatMap((u, i) => (u.existence === '*' && !found[i] ? [i] : []));
    if (missing.length > 0) {
      const first = g.untagged[missing[0]];
      const shown = showArgs(first.args);
      fail(`${missing.length} untagged replies missing (${mismatches} did not match): first "${shown}", expanded "${this.state.expand(shown, true)}", best match "${best[missing[0]].text}"`);
    }
    if (extra !== undefined) fail(`${mismatches} unexpected untagged replies, first: ${extra}`);
    if (g.sleepMs > 0) await new Promise((r) => setTimeout(r, g.sleepMs));
    return 'go';
  }
}

/** Runs `script` with the fixture `mbox`; never throws for what the server does. */
export async function runScript(script: Script, mbox: readonly MboxMessage[], o: RunOptions): Promise<ScriptResult> {
  const run = new Run(script, mbox, o);
  try {
    const s = await run.setup();
    if (s.skip) return { name: script.name, outcome: 'skip', details: [s.skip] };
    if (s.fail) return { name: script.name, outcome: 'fail', details: [`setup: ${s.fail}`] };
    const groups = [...script.groups];
    const logsOut = groups.some((g) => g.expectsBye || g.commands.some((c) => c.parts.length === 1 && 'text' in c.parts[0] && /^logout$/i.test(c.parts[0].text.trim())));
    if (!logsOut) groups.push({ conn: 0, commands: [{ line: 0, tag: 0, parts: [{ text: 'LOGOUT' }], reply: [{ t: 'atom', v: 'ok' }] }], untagged: [], ordered: false, sleepMs: 0, expectsBye: true });
    for (const [i, g] of groups.entries()) if ((await run.group(g, i)) === 'stop') break;
  } catch (e) {
    run.failures.push(`runner: ${(e as Error).stack ?? String(e)}`);
  } finally {
    for (const c of run.conns) c.close();
  }
  return { name: script.name, outcome: run.failures.length > 0 ? 'fail' : 'pass', details: run.failures };
}
