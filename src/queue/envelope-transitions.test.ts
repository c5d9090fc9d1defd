import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attempt, DeliveryStatus, Envelope, StatedEnvelope } from '../core/index.js';
import {
  RetryScheduler, applyControl, applyResult, bounce, expire, flush, hold, noticeFailed, noticeResult, noticeSent, release, withState,
} from './index.js';

const min = 60_000;
const h = 60 * min;
const d = 24 * h;
const t0 = 1_700_000_000_000;
const policy = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * d, delayWarning: 4 * h });

function env(extra: Partial<StatedEnvelope> = {}): StatedEnvelope {
  return {
    id: 'm-1', messageId: 'm', sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, recipient: { local: 'suzana', domain: 'dc.uece.br' },
    route: { transport: 'smtp', nextHop: 'dc.uece.br' }, arrivedAt: t0, size: 10, attempts: [], nextAttemptAt: 0, dsn: {},
    state: 'queued', ...extra,
  };
}
const temp: Attempt = { at: t0, status: '4.4.1', error: 'connection refused' };
const r = (action: DeliveryStatus['action'], status: DeliveryStatus['status'], extra: Partial<DeliveryStatus> = {}): DeliveryStatus =>
  ({ envelopeId: 'm-1', action, status, ...extra });

/** The parts of an envelope the transitions decide. */
function shape(e: StatedEnvelope | undefined): unknown {
  if (!e) return 'done';
  return { state: e.state, notice: e.notice, held: e.held, next: e.nextAttemptAt, attempts: e.attempts.map((a) => a.status), warned: e.delayWarnedAt };
}

void test('withState: envelopes written before states existed get theirs once, from the hold flag and the recorded outcome', () => {
  const legacy = (extra: Partial<Envelope>): Envelope => {
    const { state: _s, ...rest } = env(extra);
    return rest;
  };
  const table: [string, Envelope, unknown][] = [
    ['new from intake', legacy({}), ['queued', undefined]],
    ['tried, temporary failure', legacy({ attempts: [temp], nextAttemptAt: t0 + 5 * min }), ['deferred', undefined]],
    ['held flag', legacy({ held: true, attempts: [temp] }), ['held', undefined]],
    ['failure recorded: failure notice pending', legacy({ attempts: [temp, { at: t0 + h, status: '5.1.1' }] }), ['notice-pending', 'failure']],
    ['operator bounce recorded', legacy({ attempts: [{ at: t0, status: '5.0.0', error: 'message bounced by the administrator' }] }), ['notice-pending', 'failure']],
    ['success recorded: success notice pending', legacy({ attempts: [{ at: t0, status: '2.0.0' }] }), ['notice-pending', 'success']],
    ['held with a failure recorded keeps the notice', legacy({ held: true, attempts: [{ at: t0, status: '5.1.1' }] }), ['held', 'failure']],
    ['an unknown state is derived again', { ...legacy({ attempts: [temp] }), state: 'frozen' as never }, ['deferred', undefined]],
  ];
  for (const [name, e, want] of table) {
    const s = withState(e);
    assert.deepEqual([s.state, s.notice], want, name);
  }
  const stated = env({ state: 'deferred', attempts: [{ at: t0, status: '5.1.1' }] });
  assert.equal(withState(stated), stated, 'a stored state is the truth: nothing is read from the attempts');
});

void test('withState keeps every field as given, unknown ones too, and adds none the envelope lacks', () => {
  const { state: _s, ...fresh } = env({ body: '8BITMIME', resolvedVia: ['alias'], notice: 'failure', held: true });
  const unknown = { ...fresh, futureField: { kept: true } } as Envelope;
  assert.deepStrictEqual(withState(unknown), { ...unknown, state: 'held' });
  const { dsn: _d, held: _h, notice: _n, ...noDsn } = fresh;
  const s = withState(noDsn as unknown as Envelope);
  assert.deepStrictEqual(s, { ...noDsn, state: 'queued' });
  assert.equal(Object.hasOwn(s, 'dsn'), false, 'a field the stored envelope lacks stays absent');
  assert.equal(withState({ ...noDsn, attempts: [{ at: t0, status: '2.0.0' }] } as unknown as Envelope).notice, 'success');
});

void test('applyResult: each outcome and the state it leads to', () => {
  const late = t0 + 5 * h;
  const table: [string, StatedEnvelope, DeliveryStatus, number, unknown, string | undefined][] = [
    ['delivered, no notice asked: done', env(), r('delivered', '2.0.0'), t0, 'done', undefined],
    ['delivered with NOTIFY=SUCCESS: success notice pending, outcome recorded', env({ dsn: { notify: ['SUCCESS'] } }), r('delivered', '2.0.0'), t0,
      { state: 'notice-pending', notice: 'success', held: undefined, next: 0, attempts: ['2.0.0'], warned: undefined }, 'success'],
    ['relayed to a DSN-capable hop with NOTIFY=SUCCESS: done (RFC 3461 §6.2)', env({ dsn: { notify: ['SUCCESS'] } }), r('relayed', '2.0.0'), t0, 'done', undefined],
    ['relayed without DSN support, NOTIFY=SUCCESS: notice', env({ dsn: { notify: ['SUCCESS'] } }), r('relayed', '2.0.0', { remoteDsn: true }), t0,
      { state: 'notice-pending', notice: 'success', held: undefined, next: 0, attempts: ['2.0.0'], warned: undefined }, 'success'],
    ['failed: failure notice pending', env(), r('failed', '5.1.1'), t0,
      { state: 'notice-pending', notice: 'failure', held: undefined, next: 0, attempts: ['5.1.1'], warned: undefined }, 'failure'],
    ['failed with NOTIFY=NEVER: done without notice', env({ dsn: { notify: ['NEVER'] } }), r('failed', '5.1.1'), t0, 'done', undefined],
    ['failed with a 4xx status: the class follows the action', env(), r('failed', '4.1.1'), t0,
      { state: 'notice-pending', notice: 'failure', held: undefined, next: 0, attempts: ['5.1.1'], warned: undefined }, 'failure'],
    ['delayed: deferred until the policy says', env(), r('delayed', '4.4.1'), t0,
      { state: 'deferred', notice: undefined, held: undefined, next: t0 + 5 * min, attempts: ['4.4.1'], warned: undefined }, undefined],
    ['delayed while held by the operator: stays held', env({ state: 'held', held: true }), r('delayed', '4.4.1'), t0,
      { state: 'held', notice: undefined, held: true, next: t0 + 5 * min, attempts: ['4.4.1'], warned: undefined }, undefined],
    ['delayed past delay_warning: delay notice pending, retry time kept', env({ attempts: [temp] }), r('delayed', '4.4.1'), late,
      { state: 'notice-pending', notice: 'delay', held: undefined, next: late + h, attempts: ['4.4.1', '4.4.1'], warned: undefined }, 'delay'],
    ['delayed past delay_warning, already warned: deferred', env({ attempts: [temp], delayWarnedAt: t0 + 4 * h }), r('delayed', '4.4.1'), late,
      { state: 'deferred', notice: undefined, held: undefined, next: late + h, attempts: ['4.4.1', '4.4.1'], warned: t0 + 4 * h }, undefined],
    ['delayed at the end of the lifetime: expired, failure notice pending', env({ attempts: [temp] }), r('delayed', '4.4.1'), t0 + 3 * d,
      { state: 'notice-pending', notice: 'failure', held: undefined, next: 0, attempts: ['4.4.1', '4.4.1', '5.4.7'], warned: undefined }, 'failure'],
  ];
  for (const [name, e, result, now, want, notice] of table) {
    const o = applyResult(e, result, now, policy);
    assert.deepEqual(shape(o.envelope), want, name);
    assert.equal(o.notice, notice, `${name}: notice`);
  }
  const stopped = applyResult(env(), r('delayed', '4.3.0', { error: 'shutdown' }), t0, policy, true);
  assert.deepEqual([stopped.envelope?.state, stopped.envelope?.nextAttemptAt], ['deferred', 0], 'cut short by a stop: due at once');
  assert.equal(applyResult(env(), r('delivered', '2.0.0'), t0, policy).event, 'delivered');
  assert.equal(applyResult(env(), r('failed', '5.1.1'), t0, policy).event, 'bounced');
  assert.equal(applyResult(env(), r('delayed', '4.4.1'), t0, policy).event, 'deferred');
  assert.equal(applyResult(env({ attempts: [temp] }), r('delayed', '4.4.1'), t0 + 3 * d, policy).event, 'expired');
});

void test('expire: 5.4.7 with the last attempt\'s reply, and the notice it leads to', () => {
  const last: Attempt = { at: t0 + 3 * d, status: '4.4.1', host: 'mx.x', reply: { code: 421, status: '4.4.1', lines: ['try later'] } };
  const o = expire(env({ state: 'deferred', attempts: [last] }), t0 + 3 * d);
  assert.equal(o.event, 'expired');
  assert.equal(o.result.status, '5.4.7');
  assert.equal(o.result.remoteMta, 'mx.x');
  assert.equal(o.result.error, 'delivery time expired; last error: 421 4.4.1 try later');
  assert.deepEqual([o.envelope?.state, o.envelope?.notice, o.notice], ['notice-pending', 'failure', 'failure']);
  assert.equal(expire(env({ dsn: { notify: ['NEVER'] } }), t0).envelope, undefined, 'NOTIFY=NEVER: removed silently');
  // after a restart the notice is composed again from what was recorded
  const again = noticeResult(o.envelope!, 'failure');
  assert.deepEqual([again.action, again.status, again.error, again.remoteMta], ['failed', '5.4.7', o.result.error, 'mx.x']);
});

void test('noticeSent and noticeFailed', () => {
  const failing = env({ state: 'notice-pending', notice: 'failure', attempts: [{ at: t0, status: '5.1.1' }] });
  const warning = env({ state: 'notice-pending', notice: 'delay', attempts: [temp], nextAttemptAt: t0 + h });
  const table: [string, StatedEnvelope | undefined, unknown][] = [
    ['failure notice sent: done', noticeSent(failing, 'failure', t0), 'done'],
    ['success notice sent: done', noticeSent({ ...failing, notice: 'success' }, 'success', t0), 'done'],
    ['delay notice sent: deferred again, warned, retry time kept', noticeSent(warning, 'delay', t0 + 5),
      { state: 'deferred', notice: undefined, held: undefined, next: t0 + h, attempts: ['4.4.1'], warned: t0 + 5 }],
    ['failure notice not sent: still pending, retried later', noticeFailed(failing, 'failure', t0, policy),
      { state: 'notice-pending', notice: 'failure', held: undefined, next: t0 + 5 * min, attempts: ['5.1.1'], warned: undefined }],
    ['delay notice not sent: deferred, not warned (due again at the next deferral)', noticeFailed(warning, 'delay', t0, policy),
      { state: 'deferred', notice: undefined, held: undefined, next: t0 + h, attempts: ['4.4.1'], warned: undefined }],
    ['held meanwhile: a delay notice sent keeps the hold', noticeSent(hold(warning)!, 'delay', t0),
      { state: 'held', notice: undefined, held: true, next: t0 + h, attempts: ['4.4.1'], warned: t0 }],
  ];
  for (const [name, got, want] of table) assert.deepEqual(shape(got), want, name);
});

void test('operator transitions: hold, release, flush, bounce, delete', () => {
  const deferred = env({ state: 'deferred', attempts: [temp], nextAttemptAt: t0 + h });
  const pending = env({ state: 'notice-pending', notice: 'failure', attempts: [{ at: t0, status: '5.1.1' }], nextAttemptAt: t0 + h });
  const table: [string, StatedEnvelope | undefined, unknown][] = [
    ['hold a deferred envelope', hold(deferred), { state: 'held', notice: undefined, held: true, next: t0 + h, attempts: ['4.4.1'], warned: undefined }],
    ['hold a held one: nothing to do', hold(hold(deferred)!), 'done'],
    ['hold keeps a pending failure notice', hold(pending), { state: 'held', notice: 'failure', held: true, next: t0 + h, attempts: ['5.1.1'], warned: undefined }],
    ['release: queued, due now', release(hold(deferred)!), { state: 'queued', notice: undefined, held: undefined, next: 0, attempts: ['4.4.1'], warned: undefined }],
    ['release resumes a pending notice', release(hold(pending)!), { state: 'notice-pending', notice: 'failure', held: undefined, next: 0, attempts: ['5.1.1'], warned: undefined }],
    ['release of an envelope not held: nothing to do', release(deferred), 'done'],
    ['flush a deferred envelope: queued, due now', flush(deferred), { state: 'queued', notice: undefined, held: undefined, next: 0, attempts: ['4.4.1'], warned: undefined }],
    ['flush a pending notice: due now', flush(pending), { state: 'notice-pending', notice: 'failure', held: undefined, next: 0, attempts: ['5.1.1'], warned: undefined }],
    ['flush a held envelope: stays held', flush(hold(deferred)!), 'done'],
    ['bounce: failure notice pending with 5.0.0, due now, hold lifted', bounce(hold(deferred)!, t0 + 2 * h),
      { state: 'notice-pending', notice: 'failure', held: undefined, next: 0, attempts: ['4.4.1', '5.0.0'], warned: undefined }],
  ];
  for (const [name, got, want] of table) assert.deepEqual(shape(got), want, name);
  assert.equal(bounce(deferred, t0).attempts.at(-1)?.error, 'message bounced by the administrator');

  const due = env();
  assert.deepEqual(applyControl('flush', due, t0), { kind: 'keep' }, 'already due: counted, nothing written');
  assert.deepEqual(applyControl('flush', hold(due)!, t0), { kind: 'skip' });
  assert.deepEqual(applyControl('delete', due, t0), { kind: 'delete' });
  assert.equal(applyControl('hold', due, t0).kind, 'put');
  assert.equal(applyControl('release', due, t0).kind, 'skip');
  assert.equal(applyControl('bounce', due, t0).kind, 'put');
});
