/**
 * @module lab-scenarios
 * `correio lab run SCENARIO`: the seed's examples played on a running lab, each checked and
 * told: who sent what where, what the SMTP server answered, and the path each copy took across
 * the sites, read from the Received fields of what arrived (and from the DSN of what did not).
 * Standards: RFC 5321 §4.4 (trace fields), §6.3 (loops); RFC 3464 (DSN Status fields).
 * Security: loopback only; messages are found by a token unique to the run in their Subject.
 * Limitations: waits at most `timeoutMs` per expected copy; the site-down scenario stops and
 *   restarts dc.uece.br (its PID in lab.json changes).
 */
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig } from '../../config/index.js';
import { sendControl } from '../../app/index.js';
import { startSite } from './lab-control.js';
import { stopProcess, writeState, type LabSiteState, type LabState } from './lab-processes.js';

export interface ScenarioResult {
  readonly ok: boolean;
  readonly lines: string[];
}

interface Ctx {
  readonly state: LabState;
  readonly token: string;
  readonly timeoutMs: number;
  readonly out: string[];
}

interface Scenario {
  readonly name: string;
  readonly title: string;
  run(ctx: Ctx): Promise<boolean>;
}

function site(ctx: Ctx, domain: string): LabSiteState {
  const s = ctx.state.sites.find((x) => x.domain === domain);
  if (!s) throw new Error(`the lab has no site ${domain}`);
  return s;
}

/** One SMTP session, command by command; returns the transcript (C:/S: as in figure 5) and the replies. */
async function dialogue(host: string, port: number, commands: readonly string[]): Promise<{ transcript: string[]; replies: string[] }> {
  const sock = net.connect({ host, port });
  let buf = '';
  const waiters: (() => void)[] = [];
  sock.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    waiters.splice(0).forEach((w) => w());
  });
  sock.on('error', () => waiters.splice(0).forEach((w) => w()));
  sock.on('close', () => waiters.splice(0).forEach((w) => w()));
  const readReply = async (): Promise<string[]> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const lines = buf.split('\r\n');
      const end = lines.findIndex((l) => /^\d{3} /.test(l));
      if (end >= 0) {
        buf = lines.slice(end + 1).join('\r\n');
        return lines.slice(0, end + 1);
      }
      if (sock.destroyed || Date.now() > deadline) throw new Error(`${host}:${port} gave no reply`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 1000);
      });
    }
  };
  const transcript: string[] = [];
  const replies: string[] = [];
  const take = async (): Promise<void> => {
    const r = await readReply();
    for (const l of r) transcript.push(`S: ${l}`);
    replies.push(r[r.length - 1]);
  };
  try {
    await take();
    for (const c of commands) {
      sock.write(c + '\r\n');
      // the message text after DATA is one block: show its lines, read one reply after the dot
      for (const l of c.split('\r\n')) transcript.push(`C: ${l}`);
      await take();
    }
  } finally {
    sock.destroy();
  }
  return { transcript, replies };
}

/** The commands of one transaction (HELO, MAIL, RCPT…, DATA, text, QUIT). */
function transaction(helo: string, from: string, to: readonly string[], subject: string, body: string): string[] {
  return [`HELO ${helo}`, `MAIL FROM:<${from}>`, ...to.map((r) => `RCPT TO:<${r}>`), 'DATA', `From: ${from}\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\n\r\n${body}\r\n.`, 'QUIT'];
}

/** Sends through `via` (the sender's own site, as a user's mail program would). */
async function send(ctx: Ctx, via: string, from: string, to: readonly string[], what: string): Promise<string[]> {
  const s = site(ctx, via);
  const { replies } = await dialogue(s.ip, ctx.state.ports.smtp, transaction(via, from, to, `${what} ${ctx.token}`, `lab: ${what}`));
  ctx.out.push(`  ${from} -> ${to.join(', ')} through ${via} (${s.ip}:${ctx.state.ports.smtp}): ${replies[replies.length - 2]}`);
  return replies;
}

/** Messages in `address`'s Maildir whose text holds this run's token (and `also`, when given). */
async function found(ctx: Ctx, address: string, also?: RegExp): Promise<string[]> {
  const [local, domain] = address.split('@');
  const root = join(site(ctx, domain).dir, 'var', 'mail', domain, local);
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    let names: string[] = [];
    try {
      names = await readdir(join(root, sub));
    } catch {
      continue;
    }
    for (const n of names) {
      const text = await readFile(join(root, sub, n), 'utf8').catch(() => '');
      if (text.includes(ctx.token) && (also === undefined || also.test(text))) out.push(text);
    }
  }
  return out;
}

/** Waits for a copy in `address`'s mailbox; prints its path. False when none came in time. */
async function arrives(ctx: Ctx, address: string, also?: RegExp): Promise<string | undefined> {
  const deadline = Date.now() + ctx.timeoutMs;
  for (;;) {
    const [m] = await found(ctx, address, also);
    if (m !== undefined) {
      ctx.out.push(`  arrived for ${address}: ${path(m)}`);
      return m;
    }
    if (Date.now() > deadline) {
      ctx.out.push(`  NOT arrived for ${address} within ${ctx.timeoutMs / 1000} s`);
      return undefined;
    }
    await delay(200);
  }
}

/** The hops of a message from its Received fields, oldest first: "a → b (with X) → c …". */
export function path(message: string): string {
  const header = message.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
  const hops = header
    .split(/\r?\n/)
    .filter((l) => /^Received:/i.test(l))
    .map((l) => {
      const by = /\bby (\S+)/.exec(l)?.[1] ?? '?';
      const from = /^Received:\s*from (\S+)/i.exec(l)?.[1];
      // "with PROTOCOL id": a TLS comment before it says "with cipher …" too
      const proto = /\bwith (\S+) id\b/.exec(l)?.[1] ?? '';
      return { from, by, proto };
    })
    .reverse();
  if (hops.length === 0) return '(no Received fields)';
  let parts = [hops[0].from ?? 'local'];
  for (const h of hops) parts.push(`${h.by} (${h.proto})`);
  // a loop's trip is long: its start and its end tell it
  if (parts.length > 8) parts = [...parts.slice(0, 4), `… ${parts.length - 6} more hops …`, ...parts.slice(-2)];
  return parts.join(' -> ');
}

function check(ctx: Ctx, ok: boolean, what: string): boolean {
  ctx.out.push(`  ${ok ? 'ok' : 'FAILED'}: ${what}`);
  return ok;
}

/** A DSN to `to` about this run: its Status and, when present, the diagnostic. */
async function bounce(ctx: Ctx, to: string, status: string): Promise<boolean> {
  const m = await arrives(ctx, to, new RegExp(`Status: ${status.replace(/\./g, '\\.')}`));
  if (m) {
    const diag = /Diagnostic-Code: ([^\r\n]+)/.exec(m)?.[1];
    if (diag) ctx.out.push(`  the report says: ${diag}`);
    // the returned header (RFC 3464 §2: text/rfc822-headers) keeps the trace of the trip
    const part = m.split(/Content-Type: (?:text\/rfc822-headers|message\/rfc822)/i)[1];
    // past the part's own header fields
    const returned = part?.split(/\r?\n\r?\n/).slice(1).join('\r\n\r\n');
    const hops = returned ? (returned.match(/^Received:/gim) ?? []).length : 0;
    if (returned && hops > 0) ctx.out.push(`  the returned header shows ${hops} Received fields: ${path(returned)}`);
  }
  return check(ctx, m !== undefined, `${to} got a non-delivery report with Status ${status}`);
}

export const scenarios: readonly Scenario[] = [
  {
    name: 'figure5',
    title: "figure 5: helvecio at dsc.ufpb.br talks SMTP to dc.uece.br for suzana, jacques and pascal; jacques is unknown there",
    async run(ctx) {
      const s2 = site(ctx, 'dc.uece.br');
      const to = ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br'];
      const { transcript, replies } = await dialogue(s2.ip, ctx.state.ports.smtp, transaction('dsc.ufpb.br', 'helvecio@dsc.ufpb.br', to, `figure 5 ${ctx.token}`, 'corpo da mensagem'));
      ctx.out.push(...transcript.map((l) => `  ${l}`));
      const a = check(ctx, replies[4]?.startsWith('550') === true, 'jacques@dc.uece.br refused: 550 No such user here');
      const b = (await arrives(ctx, 'suzana@dc.uece.br')) !== undefined;
      const c = (await arrives(ctx, 'pascal@dc.uece.br')) !== undefined;
      return a && b && c;
    },
  },
  {
    name: 'role',
    title: 'a role address: chefe-de-departamento@dc.uece.br reaches whoever heads the department (pascal)',
    async run(ctx) {
      await send(ctx, 'dsc.ufpb.br', 'helvecio@dsc.ufpb.br', ['chefe-de-departamento@dc.uece.br'], 'ao chefe');
      return (await arrives(ctx, 'pascal@dc.uece.br')) !== undefined;
    },
  },
  {
    name: 'forwarding',
    title: 'forwarding: helvecio@dc.uece.br is an alias at S2 for helvecio@dsc.ufpb.br at S1',
    async run(ctx) {
      await send(ctx, 'dc.uece.br', 'suzana@dc.uece.br', ['helvecio@dc.uece.br'], 'reencaminhada');
      const m = await arrives(ctx, 'helvecio@dsc.ufpb.br');
      return check(ctx, m !== undefined && /mx\.dc\.uece\.br.*mx\.dsc\.ufpb\.br/.test(path(m)), 'it went dc.uece.br -> dsc.ufpb.br');
    },
  },
  {
    name: 'list',
    title: 'list explosion: redes@dsc.ufpb.br has members at both sites',
    async run(ctx) {
      await send(ctx, 'dsc.ufpb.br', 'helvecio@dsc.ufpb.br', ['redes@dsc.ufpb.br'], 'para a lista');
      let ok = true;
      for (const m of ['helvecio@dsc.ufpb.br', 'jacques@dsc.ufpb.br', 'suzana@dc.uece.br', 'pascal@dc.uece.br']) ok = (await arrives(ctx, m)) !== undefined && ok;
      return ok;
    },
  },
  {
    name: 'loop',
    title: 'the cross-site loop of §2.1: estacao123@dsc.ufpb.br -> estacaoBD@dc.uece.br -> estacao123@dsc.ufpb.br …',
    async run(ctx) {
      await send(ctx, 'dc.uece.br', 'suzana@dc.uece.br', ['estacao123@dsc.ufpb.br'], 'laco');
      return bounce(ctx, 'suzana@dc.uece.br', '5.4.6');
    },
  },
  {
    name: 'unknown-user',
    title: 'an unknown user: dsc.ufpb.br takes mail for jacques@dc.uece.br, dc.uece.br refuses it, helvecio gets the report',
    async run(ctx) {
      await send(ctx, 'dsc.ufpb.br', 'helvecio@dsc.ufpb.br', ['jacques@dc.uece.br'], 'desconhecido');
      return bounce(ctx, 'helvecio@dsc.ufpb.br', '5.1.1');
    },
  },
  {
    name: 'site-down',
    title: 'site down and retry: dc.uece.br is stopped, dsc.ufpb.br keeps the mail and delivers it when dc.uece.br is back',
    async run(ctx) {
      const s1 = site(ctx, 'dsc.ufpb.br');
      const s2 = site(ctx, 'dc.uece.br');
      await stopProcess(s2.pid, s2.config);
      ctx.out.push(`  stopped dc.uece.br (PID ${s2.pid})`);
      const replies = await send(ctx, 'dsc.ufpb.br', 'helvecio@dsc.ufpb.br', ['suzana@dc.uece.br'], 'com o sitio fora');
      const id = /queued as (\S+)/.exec(replies[replies.length - 2] ?? '')?.[1];
      const deferred = await waitForLog(join(s1.dir, 'serve.log'), (o) => o.msg === 'deferred' && o.messageId === id, ctx.timeoutMs);
      const why = deferred ? [deferred.error, deferred.reply].find((v): v is string => typeof v === 'string') : undefined;
      const d = check(ctx, deferred !== undefined, `dsc.ufpb.br deferred it${why ? `: ${why}` : ''}`);
      await startSite(ctx.state, s2);
      await writeState(ctx.state);
      ctx.out.push(`  started dc.uece.br again (PID ${s2.pid}); asking dsc.ufpb.br to retry now (correio queue flush)`);
      await sendControl(loadConfig({ path: s1.config }), { op: 'flush' }).catch(() => undefined);
      const m = await arrives(ctx, 'suzana@dc.uece.br');
      return d && m !== undefined;
    },
  },
];

/** Waits for a JSON log line matching `match` in a site's serve.log. */
async function waitForLog(file: string, match: (o: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (match(o)) return o;
      } catch {
        /* a line being written */
      }
    }
    if (Date.now() > deadline) return undefined;
    await delay(200);
  }
}

/** Runs one scenario on the lab; its lines say what happened, `ok` whether it went as the seed says. */
export async function runScenario(state: LabState, name: string, timeoutMs = 60_000): Promise<ScenarioResult> {
  const s = scenarios.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  const token = `[lab ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}]`;
  const ctx: Ctx = { state, token, timeoutMs, out: [`${s.name}: ${s.title}`] };
  let ok = false;
  try {
    ok = await s.run(ctx);
  } catch (err) {
    ctx.out.push(`  FAILED: ${(err as Error).message}`);
  }
  ctx.out.push(ok ? `${s.name}: as the seed says` : `${s.name}: did NOT go as the seed says`);
  return { ok, lines: ctx.out };
}
