/**
 * t-88: `[smtp] processes = N` (issue 19): the server binds the SMTP socket and the acceptor
 * processes accept on it themselves, each committing to spool segments of its own; the server
 * delivers. kill -9 of either process loses no message answered 250 and delivers none twice:
 * - the acceptor, while a client is in the middle of DATA (that message is not delivered; the
 *   server starts another acceptor and mail flows again);
 * - the server (the delivery process) while it delivers: the acceptor finishes its sessions,
 *   the restarted server finds everything in the acceptors' segments.
 * A reload (SIGHUP) replaces the acceptor; mail flows through the new one. With two acceptors
 * (processes = 3) mail flows through the one left while the other is killed, and a client's
 * connections stay within the sum of the acceptors' shares of the per-IP limit; with one
 * (processes = 2) the limit is exact, and an LMTP UNIX socket is shared too; the server's /metrics
counts the acceptor's SMTP sessions. AUTH failures count across processes: IMAP's (the
 * server's) in the acceptor's SMTP AUTH, and the acceptor's in IMAP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, LineClient } from '../helpers/net.js';
import { assertExactlyOnce, delivered, load, moreAcked, type Misses } from '../helpers/delivered-once.js';
import { childrenOf, startSiteProcess, waitFor } from '../helpers/site.js';

type ProcessSite = Awaited<ReturnType<typeof startSiteProcess>>;

// Each test's load ends in its finally, passed or failed: a failed wait would leave it connecting
// forever (to a site that is gone) and hold the file up until the runner's timeout.

const opts = { domains: ['localhost'], users: ['u@localhost'], smtp: { processes: 2 } };

void test('processes = 2: kill -9 of the acceptor mid-DATA loses no 250, delivers none twice, and another acceptor takes over', async () => {
  const site = await startSiteProcess(opts);
  let phase = 0;
  let running: Promise<void> | undefined;
  try {
    const server = site.child!.pid!;
    const [acceptor] = await waitFor('an acceptor process', () => (childrenOf(server).length === 1 ? childrenOf(server) : undefined));
    const acked = new Set<string>();
    running = load(site, 6, () => phase === 2, acked, 'a');
    await waitFor('mail through the acceptor', () => acked.size >= 40);
    // a client in the middle of DATA: its connection is the acceptor's
    const mid = await site.connect();
    assert.match((await mid.readReply()) ?? '', /^220/);
    await mid.command('EHLO mid.test');
    mid.write('MAIL FROM:<mid@test.example>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n');
    await mid.readReply();
    await mid.readReply();
    assert.match((await mid.readReply()) ?? '', /^354/);
    mid.write('Subject: mid\r\nX-Test-Id: mid-data\r\n\r\nhalf a body\r\n');
    process.kill(acceptor, 'SIGKILL');
    assert.equal(await mid.readReply().catch(() => undefined), undefined, 'the mid-DATA session was the acceptor\'s: cut');
    mid.close();
    const before = acked.size;
    // the server starts another acceptor; mail flows again
    const [second] = await waitFor('another acceptor', () => childrenOf(server).filter((p) => p !== acceptor).slice(0, 1), 20_000);
    assert.notEqual(second, acceptor);
    await waitFor('mail after the kill', () => acked.size >= before + 40, 30_000);
    phase = 2;
    await running;
    const counts = await delivered(site, acked);
    assertExactlyOnce(counts, acked);
    assert.equal(counts.has('mid-data'), false, 'a message cut in DATA is not delivered');
  } finally {
    phase = 2;
    await running;
    await site.destroy();
  }
});

void test('processes = 2: kill -9 of the delivery process while it delivers loses no 250, delivers none twice', async () => {
  const site = await startSiteProcess(opts);
  let killed = false;
  let running: Promise<void> | undefined;
  try {
    const server = site.child!.pid!;
    await waitFor('an acceptor process', () => childrenOf(server).length === 1);
    const acked = new Set<string>();
    running = load(site, 6, () => killed, acked, 'b');
    await waitFor('mail accepted and being delivered', async () => acked.size >= 60 && (await site.messages('u@localhost')).length > 0);
    killed = true;
    await site.kill9();
    await running;
    await site.restart();
    const counts = await delivered(site, acked);
    assertExactlyOnce(counts, acked);
  } finally {
    killed = true;
    await running;
    await site.destroy();
  }
});

void test('processes = 2: a reload replaces the acceptor and mail goes on through the new one', async () => {
  const site = await startSiteProcess(opts);
  let done = false;
  let running: Promise<void> | undefined;
  try {
    const server = site.child!.pid!;
    const [first] = await waitFor('an acceptor process', () => (childrenOf(server).length === 1 ? childrenOf(server) : undefined));
    process.kill(server, 'SIGHUP');
    await waitFor('the old acceptor gone, a new one there', () => {
      const now = childrenOf(server);
      return now.length === 1 && now[0] !== first;
    }, 20_000);
    const acked = new Set<string>();
    running = load(site, 2, () => done, acked, 'r');
    await waitFor('mail after the reload', () => acked.size >= 10);
    done = true;
    await running;
    assertExactlyOnce(await delivered(site, acked), acked);
  } finally {
    done = true;
    await running;
    await site.destroy();
  }
});

/** correio_sessions of the SMTP mx listener in the server's /metrics. */
async function mxSessions(port: number): Promise<number | undefined> {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith('correio_sessions{') && l.includes('listener="mx"') && l.includes('service="smtp"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Opens `n` connections and reads each one's first reply: the 220s and the 421s. */
async function greetings(site: ProcessSite, n: number): Promise<{ greeted: number; refused: number; clients: LineClient[] }> {
  const clients: LineClient[] = [];
  let greeted = 0;
  let refused = 0;
  for (let i = 0; i < n; i++) {
    const c = await site.connect();
    clients.push(c);
    const r = (await c.readReply()) ?? '';
    if (r.startsWith('220')) greeted++;
    else if (r.startsWith('421')) refused++;
  }
  return { greeted, refused, clients };
}

void test('processes = 3: two acceptors on the shared socket; the per-IP limit is each one\'s share; kill -9 of one loses nothing and mail goes on', async () => {
  // max_connections_per_ip 4 over two acceptors: 2 each (acceptor-limits.ts)
  // info: 'correio started' says that both acceptors accept; and the log says what the server did
  // when one was killed (a failed wait quotes its warnings and errors)
  const site = await startSiteProcess({ ...opts, smtp: { processes: 3, max_connections_per_ip: 4 }, logLevel: 'info' });
  let stop = false;
  let running: Promise<void> | undefined;
  try {
    const server = site.child!.pid!;
    // the port answers once one acceptor accepts; the other may still be starting, and one that
    // ends before it accepts fails the start (exit 70, acceptor-pool.ts): the kill below must
    // come after the start, as it did not in two CI runs
    await waitFor('the start', () => site.started(), 60_000);
    const pair = await waitFor('two acceptor processes', () => (childrenOf(server).length === 2 ? childrenOf(server) : undefined));
    const held = await greetings(site, 7);
    // which acceptor gets each connection is the kernel's choice: between one share and both
    assert.ok(held.greeted >= 2 && held.greeted <= 4, `greeted ${held.greeted} of 7 (shares 2 + 2)`);
    assert.equal(held.greeted + held.refused, 7, 'every other connection is refused with 421');
    for (const c of held.clients) c.close();
    const acked = new Set<string>();
    const misses: Misses = new Map();
    running = load(site, 3, () => stop, acked, 't', misses);
    await waitFor('mail through the acceptors', () => acked.size >= 30);
    process.kill(pair[0], 'SIGKILL');
    // a stall names the acceptors then and now, the server's state, the log's end and its standard error
    const state = (): string => `acceptors ${pair.join(', ')} before the kill of ${pair[0]}, ${childrenOf(server).join(', ') || 'none'} now; ` +
      `the server ${site.child?.signalCode ? `killed by ${site.child.signalCode}` : typeof site.child?.exitCode === 'number' ? `exited ${site.child.exitCode}` : 'running'}; ` +
      `the log's last warnings and errors: ${site.stdout().split('\n').filter((l) => /^\{"level":[456]0,/.test(l)).slice(-6).join(' | ')}; standard error: ${site.stderr().slice(-1500)}`;
    await moreAcked(acked, 30, 'mail after one acceptor was killed', misses, state);
    stop = true;
    await running;
    assertExactlyOnce(await delivered(site, acked), acked);
  } finally {
    stop = true;
    await running;
    await site.destroy();
  }
});

void test('processes = 2: the per-IP limit is exact; an LMTP UNIX socket is shared too; AUTH failures count across the server and the acceptor', async () => {
  // picked afresh each time startSiteProcess starts serve over (a port taken meanwhile)
  let [imapPort, metricsPort] = [0, 0];
  const site = await startSiteProcess({
    ...opts,
    smtp: { processes: 2, max_connections_per_ip: 3, auth_on_mx: true },
    tables: async () => {
      [imapPort, metricsPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
      return `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n[metrics]\nlisten = ["127.0.0.1:${metricsPort}"]\n[auth]\nmax_failures_per_address = 2\nfailure_delay = "1s"\n[lmtp]\nlisten = ["unix:lmtp.sock"]\n`;
    },
  });
  try {
    const server = site.child!.pid!;
    await waitFor('an acceptor process', () => childrenOf(server).length === 1);
    const held = await greetings(site, 4);
    assert.deepEqual([held.greeted, held.refused], [3, 1], 'one acceptor: the whole limit');
    // the server's /metrics counts the acceptor's open sessions (it runs none itself)
    await waitFor('the acceptor\'s 3 sessions in /metrics', async () => (await mxSessions(metricsPort)) === 3);
    for (const c of held.clients) c.close();
    await waitFor('no session in /metrics once closed', async () => (await mxSessions(metricsPort)) === 0);
    // the LMTP UNIX socket is shared the same way: a message through it is delivered
    const lmtp = await new Promise<LineClient>((resolve, reject) => {
      const sock = net.connect(join(site.dir, 'lmtp.sock'), () => resolve(new LineClient(sock)));
      sock.once('error', reject);
    });
    assert.match((await lmtp.readReply()) ?? '', /^220 .*LMTP/);
    await lmtp.command('LHLO unix.test');
    lmtp.write('MAIL FROM:<l@test.example>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n');
    for (const want of [/^250/, /^250/, /^354/]) assert.match((await lmtp.readReply()) ?? '', want);
    assert.match((await lmtp.command('Subject: unix\r\nX-Test-Id: over-lmtp\r\n\r\nhi\r\n.')) ?? '', /^250/);
    lmtp.close();
    await site.waitForMessages('u@localhost', 1);
    const imapLogin = async (password: string, from = '127.0.0.1'): Promise<string> => {
      const c = await LineClient.connect(imapPort, '127.0.0.1', from);
      try {
        await c.readLine();
        c.write(`a LOGIN u@localhost ${password}\r\n`);
        for (;;) {
          const l = await c.readLine();
          if (l === undefined || l.startsWith('a ') || l.startsWith('* BYE')) return l ?? '<closed>';
        }
      } finally {
        c.close();
      }
    };
    const smtpAuth = async (password: string, from = '127.0.0.1'): Promise<string> => {
      const c = await site.connect(from);
      try {
        await c.readReply();
        await c.command('EHLO auth.test');
        assert.match((await c.command('STARTTLS')) ?? '', /^220/);
        await c.startTls({ rejectUnauthorized: false });
        await c.command('EHLO auth.test');
        return (await c.command(`AUTH PLAIN ${Buffer.from(`\0u@localhost\0${password}`).toString('base64')}`)) ?? '<closed>';
      } finally {
        c.close();
      }
    };
    // two wrong IMAP passwords (the server's throttle) block SMTP AUTH in the acceptor
    assert.match(await imapLogin('wrong1'), /^a NO/);
    assert.match(await imapLogin('wrong2'), /^(a NO|\* BYE)/, 'the second failure reaches the limit');
    assert.match(await smtpAuth('secret'), /^421 /, 'the acceptor counted the server\'s failures');
    // and from another address, two wrong SMTP passwords (the acceptor's) block IMAP LOGIN
    assert.match(await smtpAuth('wrong1', '127.0.0.2'), /^535 /);
    assert.match(await smtpAuth('wrong2', '127.0.0.2'), /^(535|421) /);
    assert.doesNotMatch(await imapLogin('secret', '127.0.0.2'), /^a OK/, 'the server counted the acceptor\'s failures');
    assert.match(await imapLogin('secret', '127.0.0.3'), /^a OK/, 'another address is not blocked');
  } finally {
    await site.destroy();
  }
});
