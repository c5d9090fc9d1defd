/**
 * The named checks of each SMTP stage, one table each, and the stage rule: the first refusal
 * answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReply, type SessionInfo, type SmtpReply } from '../core/index.js';
import {
  authenticationRequired,
  clientConnectionLimit,
  connectionLimit,
  declaredSize,
  firstRefusal,
  lookupOnlyForKnownClients,
  recipientLimit,
  relayControl,
  buildSmtpPolicy,
  type Check,
} from './index.js';
import { replies } from '../core/index.js';

const stranger: SessionInfo = { protocol: 'ESMTP', mayRelay: false, submission: false, remoteAddress: '192.0.2.9' };
const trusted: SessionInfo = { ...stranger, mayRelay: true, remoteAddress: '127.0.0.1' };
const authed: SessionInfo = { protocol: 'ESMTPSA', authUser: 'u1@localhost', mayRelay: true, submission: true };

const show = (r: SmtpReply | undefined): string => (r === undefined ? 'pass' : formatReply(r));

async function table<F>(check: Check<F>, rows: readonly [F, string][]): Promise<void> {
  for (const [facts, want] of rows) assert.equal(show(await check.check(facts)), want, `${check.name} ${JSON.stringify(facts)}`);
}

test('connect: connection-limit and client-connection-limit (421 4.7.0 past them)', async () => {
  const tooMany = '421 4.7.0 mx.test Too many connections, try again later';
  await table(connectionLimit(2, 'mx.test'), [
    [{ session: stranger, connections: 2, fromClient: 1 }, 'pass'],
    [{ session: stranger, connections: 3, fromClient: 1 }, tooMany],
  ]);
  await table(clientConnectionLimit(1, 'mx.test'), [
    [{ session: stranger, connections: 9, fromClient: 1 }, 'pass'],
    [{ session: stranger, connections: 9, fromClient: 2 }, tooMany],
  ]);
});

test('mail: authentication-required and declared-size', async () => {
  await table(authenticationRequired(), [
    [{ session: stranger, sender: null, mail: {} }, '530 5.7.0 Authentication required'],
    [{ session: authed, sender: null, mail: {} }, 'pass'],
  ]);
  await table(declaredSize(1000), [
    [{ session: stranger, sender: null, mail: {} }, 'pass'],
    [{ session: stranger, sender: null, mail: { size: 1000 } }, 'pass'],
    [{ session: stranger, sender: null, mail: { size: 1001 } }, '552 5.3.4 Message size exceeds fixed maximum message size'],
  ]);
});

test('rcpt: recipient-limit (never under 100) and relay-control', async () => {
  const at = (accepted: number) => ({ session: stranger, sender: null, recipient: { local: 'a', domain: 'localhost' }, accepted });
  await table(recipientLimit(5), [
    [at(99), 'pass'],
    [at(100), '452 4.5.3 Too many recipients'],
  ]);
  await table(recipientLimit(200), [
    [at(199), 'pass'],
    [at(200), '452 4.5.3 Too many recipients'],
  ]);
  const relay = relayControl(async (d) => d === 'localhost');
  const to = (session: SessionInfo, local: string, domain: string) => ({ session, sender: null, recipient: { local, domain }, accepted: 0 });
  await table(relay, [
    [to(stranger, 'u1', 'localhost'), 'pass'],
    [to(stranger, 'u1', 'LOCALHOST'), 'pass'],
    [to(stranger, 'postmaster', ''), 'pass'],
    [to(stranger, 'x', 'far.example'), '554 5.7.1 Relay access denied'],
    [to(stranger, 'x', '[192.0.2.1]'), '554 5.7.1 Relay access denied'],
    [to(trusted, 'x', 'far.example'), 'pass'],
    [to(authed, 'x', 'far.example'), 'pass'],
  ]);
});

test('vrfy/expn: known-clients-only', async () => {
  await table(lookupOnlyForKnownClients(replies.cannotVerify), [
    [{ session: stranger, argument: 'u1' }, '252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery'],
    [{ session: trusted, argument: 'u1' }, 'pass'],
    [{ session: authed, argument: 'u1' }, 'pass'],
  ]);
});

test('a stage runs its checks in order and answers with the first refusal', async () => {
  const ran: string[] = [];
  const mk = (name: string, r?: SmtpReply): Check<number> => ({
    name,
    check: () => {
      ran.push(name);
      return r;
    },
  });
  assert.deepEqual(await firstRefusal([mk('a'), mk('b', replies.relayDenied()), mk('c', replies.noSuchUser())], 0), replies.relayDenied());
  assert.deepEqual(ran, ['a', 'b']);
  assert.equal(await firstRefusal([], 0), undefined);
});

test('buildSmtpPolicy: the lists of each listener, AUTH offered on MX only with authOnMx', async () => {
  const ownership = { mayUse: async () => false };
  const p = buildSmtpPolicy({
    hostname: 'mx.test', maxMessageSize: 1000, maxRecipients: 100, maxConnections: 10, maxConnectionsPerIp: 2,
    senderOwnership: ownership, isLocalDomain: async () => true,
  });
  assert.deepEqual(p.mx.names(), {
    connect: ['connection-limit', 'client-connection-limit'],
    helo: [],
    mail: ['declared-size', 'envelope-sender-owned'],
    rcpt: ['recipient-limit', 'relay-control'],
    data: [],
    endOfData: ['from-header-owned'],
    vrfy: ['known-clients-only'],
    expn: ['known-clients-only'],
  });
  for (const mode of ['submission', 'submissions'] as const) {
    assert.deepEqual(p[mode].names().mail, ['authentication-required', 'declared-size', 'envelope-sender-owned']);
    assert.deepEqual(p[mode].names().endOfData, ['from-header-owned']);
    assert.equal(p[mode].offersAuth, true);
  }
  assert.equal(p.mx.offersAuth, false);
  // trusted networks: none unless given; given, every listener shares them
  assert.equal(p.mx.trusted.contains('127.0.0.1'), false);
  const t = buildSmtpPolicy({ hostname: 'mx.test', maxMessageSize: 1, maxRecipients: 100, trustedNetworks: ['127.0.0.0/8'] });
  assert.equal(t.mx.trusted.contains('127.0.0.5'), true);
  assert.equal(t.submission.trusted.contains('192.0.2.1'), false);
  assert.throws(() => buildSmtpPolicy({ hostname: 'mx.test', maxMessageSize: 1, maxRecipients: 100, trustedNetworks: ['nonsense'] }));
  assert.equal(buildSmtpPolicy({ hostname: 'mx.test', maxMessageSize: 1, maxRecipients: 100, authOnMx: true }).mx.offersAuth, true);
  // the sender rule is the same on every port: an authenticated MX session is refused as on 587
  const forged = { session: authed, sender: { local: 'ceo', domain: 'bank.example' }, mail: {} };
  assert.equal(show(await p.mx.mail(forged)), '553 5.7.1 Sender address not owned by authenticated user');
  assert.equal(show(await p.submission.mail(forged)), '553 5.7.1 Sender address not owned by authenticated user');
  // VRFY/EXPN: syntax, the gate, then the answers (none here: 252, and 502 for EXPN)
  assert.equal(show(await p.mx.vrfy(trusted, '')), '501 5.5.4 Syntax error in parameters or arguments');
  assert.equal(show(await p.mx.vrfy(trusted, 'u1')), '252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery');
  assert.equal(show(await p.mx.expn(trusted, 'staff')), '502 5.5.1 Command not implemented');
});
