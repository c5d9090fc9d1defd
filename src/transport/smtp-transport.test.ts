import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import PostalMime from 'postal-mime';
import type { DeliveryRequest, Envelope, DsnParams } from '../core/index.js';
import { DnsResolver } from '../dns/index.js';
import { SmtpTransport, LmtpTransport, type SmtpTransportOptions } from './smtp-transport.js';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { startScriptedPeer, type ScriptedPeer, type ScriptedPeerOptions } from '../../test/helpers/scripted-smtp-peer.js';

let dns: DnsTestServer;
const cleanup: (() => Promise<void>)[] = [];
before(async () => {
  dns = await startDnsServer({
    'dc.uece.br': { mx: [{ preference: 10, exchange: 'mx.dc.uece.br' }] },
    'mx.dc.uece.br': { a: ['127.0.0.1'] },
    'two.example': { mx: [{ preference: 10, exchange: 'dead.two.example' }, { preference: 20, exchange: 'live.two.example' }] },
    'dead.two.example': { a: ['127.0.0.2'] },
    'live.two.example': { a: ['127.0.0.1'] },
    'implicit.example': { a: ['127.0.0.1'] },
    'null.example': { mx: 'null' },
    'broken.example': { servfail: true },
    'slow.example': { timeout: true },
    'self.example': { mx: [{ preference: 10, exchange: 'me.test' }] },
    'me.test': { a: ['127.0.0.9'] },
  });
});
after(async () => {
  for (const c of cleanup) await c();
  await dns.close();
});

async function peer(opts: ScriptedPeerOptions = {}): Promise<ScriptedPeer> {
  const p = await startScriptedPeer(opts);
  cleanup.push(() => p.close());
  return p;
}

function transport(port: number, extra: Partial<SmtpTransportOptions> = {}): SmtpTransport {
  const t = new SmtpTransport({
    hostname: 'me.test',
    dns: new DnsResolver({ servers: [dns.server], timeoutMs: 300, tries: 1 }),
    port,
    timeouts: { connect: 2000, greeting: 1500, command: 1500, mail: 1500, rcpt: 1500, dataInit: 1500, dataBlock: 1500, dataTerm: 1500, quit: 300 },
    reuse: { idleMs: 0 },
    ...extra,
  });
  cleanup.push(() => t.close());
  return t;
}

const plainMessage = Buffer.from('From: helvecio@dsc.ufpb.br\r\nSubject: Mensagem\r\n\r\nHello\r\n.dot line\r\n');

function request(nextHop: string, rcpts: string[], msg = plainMessage, e: { body?: Envelope['body']; dsn?: DsnParams } = {}): DeliveryRequest {
  const envelopes: Envelope[] = rcpts.map((r, i) => {
    const [local, domain] = r.split('@');
    return {
      id: `env-${i}`,
      messageId: 'msg-1',
      sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
      recipient: { local, domain },
      route: { transport: 'smtp', nextHop },
      arrivedAt: Date.now(),
      size: msg.length,
      attempts: [],
      nextAttemptAt: 0,
      dsn: e.dsn ?? {},
      ...(e.body ? { body: e.body } : {}),
    };
  });
  return {
    route: { transport: 'smtp', nextHop },
    messageId: 'msg-1',
    sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
    envelopes,
    size: msg.length,
    openMessage: async () => Readable.from([msg]),
  };
}
const signal = () => new AbortController().signal;

void test('delivers through the MX with per-recipient results (the seed example)', async () => {
  const p = await peer({ script: { RCPT: (to) => (to.startsWith('jacques') ? '550 5.1.1 No such user here' : '250 2.1.5 OK') } });
  const res = await transport(p.port).deliver(request('dc.uece.br', ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br']), signal());
  assert.deepEqual(res.map((r) => r.action), ['delivered', 'failed', 'delivered']);
  assert.equal(res[1].status, '5.1.1');
  assert.equal(res[1].reply?.code, 550);
  assert.equal(res[0].remoteMta, 'mx.dc.uece.br');
  assert.equal(res[0].ip, '127.0.0.1');
  assert.equal(p.messages.length, 1);
  assert.ok(p.messages[0].data.equals(plainMessage));
  assert.deepEqual(p.messages[0].rcptTo, ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
});

for (const [name, script, action, code] of [
  ['421 greeting', { GREETING: { reply: '421 4.3.2 busy', close: true } }, 'delayed', 421],
  ['451 at RCPT', { RCPT: '451 4.3.0 Try again later' }, 'delayed', 451],
  ['552 at end of data', { DOT: '552 5.3.4 Message too big for system' }, 'failed', 552],
  ['550 at RCPT', { RCPT: '550 5.1.1 No such user here' }, 'failed', 550],
  ['421 at MAIL', { MAIL: { reply: '421 4.3.2 shutting down', close: true } }, 'delayed', 421],
] as const) {
  void test(`${name} → ${action}`, async () => {
    const p = await peer({ script });
    const [r] = await transport(p.port).deliver(request('dc.uece.br', ['suzana@dc.uece.br']), signal());
    assert.equal(r.action, action);
    assert.equal(r.reply?.code, code);
    assert.equal(r.status[0], String(code)[0]);
    if (action !== 'delayed' || code !== 421) assert.equal(r.remoteMta, 'mx.dc.uece.br');
  });
}

void test('connection dropped mid-DATA → delayed, nothing delivered', async () => {
  const p = await peer({ script: { DATA_BODY: 'drop' } });
  const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(3_000_000, 'x\r\n')]);
  const [r] = await transport(p.port).deliver(request('dc.uece.br', ['suzana@dc.uece.br'], big), signal());
  assert.equal(r.action, 'delayed');
  assert.match(r.status, /^4\./);
  assert.ok(r.error);
  assert.equal(p.messages.length, 0);
});

void test('a server that never answers → delayed after the timeout', async () => {
  const p = await peer({ script: { GREETING: 'silent' } });
  const [r] = await transport(p.port, { timeouts: { greeting: 300 } }).deliver(request('dc.uece.br', ['suzana@dc.uece.br']), signal());
  assert.equal(r.action, 'delayed');
  assert.equal(r.status, '4.4.2');
  assert.match(r.error ?? '', /timeout/);
});

void test('null MX → failed 5.1.10; NXDOMAIN → failed 5.1.2; SERVFAIL and timeout → delayed 4.4.3', async () => {
  const t = transport(1);
  const [n] = await t.deliver(request('null.example', ['a@null.example']), signal());
  assert.deepEqual([n.action, n.status], ['failed', '5.1.10']);
  const [x] = await t.deliver(request('nowhere.example', ['a@nowhere.example']), signal());
  assert.deepEqual([x.action, x.status], ['failed', '5.1.2']);
  const [s] = await t.deliver(request('broken.example', ['a@broken.example']), signal());
  assert.deepEqual([s.action, s.status], ['delayed', '4.4.3']);
  const [w] = await t.deliver(request('slow.example', ['a@slow.example']), signal());
  assert.deepEqual([w.action, w.status], ['delayed', '4.4.3']);
});

void test('two MX, the first refuses connections: the second is used', async () => {
  const p = await peer();
  const [r] = await transport(p.port).deliver(request('two.example', ['a@two.example']), signal());
  assert.equal(r.action, 'delivered');
  assert.equal(r.remoteMta, 'live.two.example');
  assert.equal(p.messages.length, 1);
});

void test('no MX: the implicit MX (the domain\'s own address)', async () => {
  const p = await peer();
  const [r] = await transport(p.port).deliver(request('implicit.example', ['a@implicit.example']), signal());
  assert.equal(r.action, 'delivered');
  assert.equal(r.remoteMta, 'implicit.example');
});

void test('nobody listening anywhere → delayed 4.4.1', async () => {
  const p = await peer();
  const port = p.port;
  await p.close();
  const [r] = await transport(port).deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  assert.deepEqual([r.action, r.status], ['delayed', '4.4.1']);
  assert.match(r.error ?? '', /ECONNREFUSED/);
});

void test('an MX pointing back at us is a loop: failed 5.4.6', async () => {
  const t = transport(2525, { ownAddresses: ['127.0.0.9'] });
  const [r] = await t.deliver(request('self.example', ['a@self.example']), signal());
  assert.deepEqual([r.action, r.status], ['failed', '5.4.6']);
});

void test('static route [ip]:port: no MX lookup', async () => {
  const p = await peer();
  const before = dns.queries.length;
  const [r] = await transport(1).deliver(request(`[127.0.0.1]:${p.port}`, ['a@example.net']), signal());
  assert.equal(r.action, 'delivered');
  assert.equal(dns.queries.length, before);
});

void test('SIZE: a message over the server\'s limit fails 5.3.4 without sending', async () => {
  const p = await peer({ extensions: ['PIPELINING', 'SIZE 20'] });
  const [r] = await transport(p.port).deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  assert.deepEqual([r.action, r.status], ['failed', '5.3.4']);
  assert.ok(!p.commands.some((c) => c.startsWith('MAIL')));
});

const eightBit = Buffer.from(
  'From: a@b.c\r\nSubject: acentos\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nOlá, ação e coração\r\n--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain part\r\n--b--\r\n',
  'utf8',
);

void test('8-bit message to a server without 8BITMIME is converted to 7 bits', async () => {
  const p = await peer({ extensions: ['PIPELINING', 'ENHANCEDSTATUSCODES'] });
  const [r] = await transport(p.port).deliver(request('dc.uece.br', ['a@dc.uece.br'], eightBit, { body: '8BITMIME' }), signal());
  assert.equal(r.action, 'delivered');
  const got = p.messages[0].data;
  assert.ok(got.every((b) => b < 0x80), 'all received bytes are 7-bit');
  assert.ok(!p.commands.some((c) => c.includes('BODY=')));
  const [a, b] = await Promise.all([PostalMime.parse(eightBit), PostalMime.parse(got)]);
  const ws = (x: string | undefined) => (x ?? '').replace(/\s+/g, ' ').trim();
  assert.equal(ws(b.text), ws(a.text));
  assert.match(b.text ?? '', /Olá, ação e coração/);
});

void test('8-bit in headers to a server without 8BITMIME: failed 5.6.3, nothing sent', async () => {
  const p = await peer({ extensions: ['PIPELINING'] });
  const msg = Buffer.from('Subject: ação\r\n\r\nx\r\n', 'utf8');
  const [r] = await transport(p.port).deliver(request('dc.uece.br', ['a@dc.uece.br'], msg, { body: '8BITMIME' }), signal());
  assert.deepEqual([r.action, r.status], ['failed', '5.6.3']);
  assert.equal(p.messages.length, 0);
});

void test('8-bit message to an 8BITMIME server goes as is with BODY=8BITMIME', async () => {
  const p = await peer();
  const [r] = await transport(p.port).deliver(request('dc.uece.br', ['a@dc.uece.br'], eightBit, { body: '8BITMIME' }), signal());
  assert.equal(r.action, 'delivered');
  assert.ok(p.messages[0].data.equals(eightBit));
  assert.ok(p.commands.some((c) => c.startsWith('MAIL') && c.includes('BODY=8BITMIME')));
});

void test('DSN: passed on when offered; "relayed" for NOTIFY=SUCCESS when not', async () => {
  const withDsn = await peer();
  const dsn: DsnParams = { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;a@dc.uece.br', envid: 'E1', ret: 'HDRS' };
  const [r1] = await transport(withDsn.port).deliver(request('dc.uece.br', ['a@dc.uece.br'], plainMessage, { dsn }), signal());
  assert.equal(r1.action, 'delivered');
  assert.equal(r1.remoteDsn, true);
  assert.ok(withDsn.commands.includes('RCPT TO:<a@dc.uece.br> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@dc.uece.br'));
  assert.ok(withDsn.commands.some((c) => c.startsWith('MAIL') && c.includes('RET=HDRS ENVID=E1')));
  const noDsn = await peer({ extensions: ['PIPELINING'] });
  const [r2] = await transport(noDsn.port).deliver(request('dc.uece.br', ['a@dc.uece.br'], plainMessage, { dsn }), signal());
  assert.equal(r2.action, 'relayed');
  assert.equal(r2.remoteDsn, false);
  assert.ok(!noDsn.commands.some((c) => c.includes('NOTIFY')));
});

void test('sessions are reused for the same route, with no RSET after a clean transaction', async () => {
  const p = await peer();
  const t = transport(p.port, { reuse: { idleMs: 5000 } });
  const a = await t.deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  const b = await t.deliver(request('dc.uece.br', ['b@dc.uece.br']), signal());
  assert.equal(a[0].action, 'delivered');
  assert.equal(b[0].action, 'delivered');
  assert.equal(p.connections, 1);
  assert.equal(p.messages.length, 2);
  // RFC 5321 §4.1.1.4: after 250 to the final "." the session is already reset
  assert.ok(!p.commands.includes('RSET'));
  await t.close();
  assert.equal(p.commands.at(-1), 'QUIT');
});

void test('a kept session carries 101 messages by default; maxMessages ends it after that many', async () => {
  const p = await peer();
  const t = transport(p.port, { reuse: { idleMs: 600_000 } });
  for (let i = 0; i < 101; i++) {
    const [r] = await t.deliver(request('dc.uece.br', [`a${i}@dc.uece.br`]), signal());
    assert.equal(r.action, 'delivered');
  }
  // one session (it was QUIT and made again after 100 messages until session 15)
  assert.equal(p.connections, 1);
  assert.ok(!p.commands.includes('QUIT'));
  const q = await peer();
  const few = transport(q.port, { reuse: { idleMs: 600_000, maxMessages: 3 } });
  for (let i = 0; i < 4; i++) await few.deliver(request(`[127.0.0.1]:${q.port}`, [`b${i}@example.net`]), signal());
  assert.equal(q.messages.length, 4);
  // QUIT after the third transaction, a new session for the fourth
  assert.equal(q.connections, 2);
  await until(() => q.commands.includes('QUIT'));
  assert.deepEqual(q.commands.filter((c) => c === 'QUIT' || c === 'DATA'), ['DATA', 'DATA', 'DATA', 'QUIT', 'DATA']);
});

void test('a kept session is not reused past maxAgeMs after its first message', async () => {
  const p = await peer();
  const t = transport(p.port, { reuse: { idleMs: 600_000, maxAgeMs: 1 } });
  for (let i = 0; i < 2; i++) {
    const [r] = await t.deliver(request('dc.uece.br', [`a${i}@dc.uece.br`]), signal());
    assert.equal(r.action, 'delivered');
    // the session is older than 1 ms when it comes back (at least 5 ms later)
    await new Promise((r) => setTimeout(r, 5));
  }
  // the second check-in finds it too old; the first could not (its age starts there)
  assert.equal(p.connections, 1);
  await until(() => p.commands.includes('QUIT'));
  assert.deepEqual(p.commands.filter((c) => c === 'QUIT' || c === 'DATA'), ['DATA', 'DATA', 'QUIT']);
});

/** Waits (polling, no deadline asserted) until cond() holds or 5 s have passed. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

void test('20 concurrent deliveries to one route, then 20 more: the 20 sessions are reused, no RSET', async () => {
  const p = await peer();
  const t = transport(p.port, { reuse: { idleMs: 10_000, maxIdlePerRoute: 20 } });
  const route = `[127.0.0.1]:${p.port}`;
  const round = async (tag: string) =>
    (await Promise.all(Array.from({ length: 20 }, (_, i) => t.deliver(request(route, [`${tag}${i}@example.net`]), signal())))).flat();
  const first = await round('a');
  const second = await round('b');
  assert.ok([...first, ...second].every((r) => r.action === 'delivered'));
  assert.equal(p.messages.length, 40);
  assert.ok(p.connections <= 22, `${p.connections} connections for 40 messages`);
  assert.equal(p.commands.filter((c) => c.startsWith('EHLO')).length, p.connections);
  assert.ok(!p.commands.includes('RSET'));
  assert.ok(!p.commands.includes('QUIT'), 'no session was closed between the rounds');
  await t.close();
  await until(() => p.commands.filter((c) => c === 'QUIT').length === p.connections);
  assert.equal(p.commands.filter((c) => c === 'QUIT').length, p.connections);
});

void test('maxIdlePerRoute bounds the sessions kept per route', async () => {
  const p = await peer();
  const t = transport(p.port, { reuse: { idleMs: 10_000, maxIdlePerRoute: 4 } });
  const route = `[127.0.0.1]:${p.port}`;
  for (const tag of ['a', 'b']) await Promise.all(Array.from({ length: 20 }, (_, i) => t.deliver(request(route, [`${tag}${i}@example.net`]), signal())));
  assert.equal(p.messages.length, 40);
  // 20 for the first round; 4 of them kept for the second, which opens 16 more
  assert.equal(p.connections, 36);
});

void test('a failed transaction is reset (RSET pipelined with the next one) on the reused session', async () => {
  const p = await peer({ script: { RCPT: (to) => (to.startsWith('jacques') ? '550 5.1.1 No such user here' : '250 2.1.5 OK') } });
  const t = transport(p.port, { reuse: { idleMs: 5000 } });
  const [a] = await t.deliver(request('dc.uece.br', ['jacques@dc.uece.br']), signal());
  assert.deepEqual([a.action, a.status], ['failed', '5.1.1']);
  const [b] = await t.deliver(request('dc.uece.br', ['suzana@dc.uece.br']), signal());
  const [c] = await t.deliver(request('dc.uece.br', ['pascal@dc.uece.br']), signal());
  assert.equal(b.action, 'delivered');
  assert.equal(c.action, 'delivered');
  assert.equal(p.connections, 1);
  const mail = (c: string) => c.startsWith('MAIL');
  const txs = p.commands.slice(1).join('|').split(/\|(?=RSET|MAIL)/);
  assert.deepEqual(
    txs.map((x) => x.split('|').filter((c) => !mail(c) && !c.startsWith('RCPT')).join(' ')),
    ['DATA', 'RSET', 'DATA', 'DATA'],
    p.commands.join('\n'),
  );
});

void test('a kept session the server refuses with 421: a new one is made', async () => {
  const p = await peer({ script: { MAIL: (_arg, s) => (s.transactions > 0 ? { reply: '421 4.4.2 idle too long', close: true } : '250 2.1.0 OK') } });
  const t = transport(p.port, { reuse: { idleMs: 5000 } });
  await t.deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  const [r] = await t.deliver(request('dc.uece.br', ['b@dc.uece.br']), signal());
  assert.equal(r.action, 'delivered');
  assert.equal(p.connections, 2);
  assert.equal(p.messages.length, 2);
});

void test('a kept session that drops on its first command: every recipient goes over a new session', async () => {
  const p = await peer({ script: { MAIL: (_arg, s) => (s.transactions > 0 ? 'drop' : '250 2.1.0 OK') } });
  const t = transport(p.port, { reuse: { idleMs: 5000 }, maxRecipients: 1 });
  await t.deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  const res = await t.deliver(request('dc.uece.br', ['b@dc.uece.br', 'c@dc.uece.br']), signal());
  // two transactions (one recipient each) on the new session; the second one is MAIL number 2
  // there, so the script drops it: that recipient is delayed, the first delivered
  assert.deepEqual(res.map((r) => r.action), ['delivered', 'delayed']);
  assert.equal(p.connections, 2);
});

void test('a kept session the server closed after its transaction: a new one is made', async () => {
  const p = await peer({ script: { DOT: { reply: '250 2.0.0 OK: queued', close: true } } });
  const t = transport(p.port, { reuse: { idleMs: 5000 } });
  const [a] = await t.deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  const [b] = await t.deliver(request('dc.uece.br', ['b@dc.uece.br']), signal());
  assert.deepEqual([a.action, b.action], ['delivered', 'delivered']);
  assert.equal(p.connections, 2);
  // (the peer records no message when its reply to "." closes the connection)
  assert.equal(p.commands.filter((c) => c === 'DATA').length, 2);
});

void test('idle sessions are QUIT after idleMs, and sessions that come back after close() too', async () => {
  const p = await peer();
  const t = transport(p.port, { reuse: { idleMs: 50 } });
  await t.deliver(request('dc.uece.br', ['a@dc.uece.br']), signal());
  await until(() => p.commands.includes('QUIT'));
  assert.equal(p.commands.at(-1), 'QUIT');
  await t.close();
  const [r] = await t.deliver(request('dc.uece.br', ['b@dc.uece.br']), signal());
  assert.equal(r.action, 'delivered');
  await until(() => p.commands.filter((c) => c === 'QUIT').length === 2);
  assert.deepEqual(p.commands.filter((c) => c === 'QUIT'), ['QUIT', 'QUIT']);
  assert.equal(p.connections, 2);
});

void test('452 too many recipients: the rest go in another transaction', async () => {
  let n = 0;
  const p = await peer({
    script: {
      RCPT: (_to, s) => (s.rcptTo.length >= 2 ? '452 4.5.3 Too many recipients' : '250 2.1.5 OK'),
      MAIL: () => {
        n++;
        return '250 2.1.0 OK';
      },
    },
  });
  const res = await transport(p.port).deliver(request('dc.uece.br', ['a@dc.uece.br', 'b@dc.uece.br', 'c@dc.uece.br']), signal());
  assert.deepEqual(res.map((r) => r.action), ['delivered', 'delivered', 'delivered']);
  assert.equal(n, 2);
  assert.equal(p.messages.length, 2);
});

void test('LMTP: per-recipient replies after DATA', async () => {
  const p = await peer({ lmtp: true, script: { DOT: (rcpt) => (rcpt.startsWith('b') ? '452 4.2.2 Mailbox full' : '250 2.0.0 OK') } });
  const t = new LmtpTransport({ hostname: 'me.test', dns: new DnsResolver({ servers: [dns.server] }), reuse: { idleMs: 0 } });
  const res = await t.deliver(request(`[127.0.0.1]:${p.port}`, ['a@x.y', 'b@x.y']), signal());
  assert.equal(t.name, 'lmtp');
  assert.deepEqual(res.map((r) => [r.action, r.status]), [['delivered', '2.0.0'], ['delayed', '4.2.2']]);
  assert.ok(p.commands[0].startsWith('LHLO'));
});
