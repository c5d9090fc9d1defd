/**
 * @module envelope-transitions
 * Every change of an envelope's state, written once as a pure function: the result of a
 * delivery attempt (applyResult), expiry (expire), a notice sent or not (noticeSent,
 * noticeFailed), and the operator's actions (hold, release, flush, bounce, delete through
 * applyControl). The running server's dispatcher and the offline CLI call the same functions;
 * the clock is passed in (`now`) and the retry policy too, so each is tested by a table.
 *
 * States (core/envelope.ts EnvelopeState): queued → (attempt) → deferred | notice-pending | done;
 * deferred → queued (flush) | notice-pending (delay warning due, expiry) | held; held → queued
 * or notice-pending (release); notice-pending → done (failure/success notice sent) or deferred
 * (delay notice sent). "Done" is not stored: the envelope is removed (transitions return
 * undefined). A final outcome is also appended to the attempts, so that the notice can be
 * composed again after a crash and an older correio reading the spool sees the same outcome.
 *
 * Intake commits new envelopes as `queued`. withState gives an envelope written before states
 * existed its state, once, when it is loaded; nothing else reads the attempts to learn a state.
 * Standards: RFC 5321 §4.5.4.1 (retries), §6.1 (reliable delivery: an outcome is kept until its
 *   notice is sent); RFC 3461 §4.1, §6.2 (NOTIFY: which notices); RFC 3463 (5.4.7, 5.0.0);
 *   RFC 3464 (the reports).
 * Security: none (pure).
 * Limitations: none.
 */
import {
  envelopeStates, formatReply, notifyWants,
  type Attempt, type DeliveryStatus, type EnhancedStatus, type Envelope, type EnvelopeState, type NoticeKind, type Scheduler, type StatedEnvelope,
} from '../core/index.js';

/** The text recorded on envelopes bounced by the operator (`correio queue bounce`). */
export const operatorBounceText = 'message bounced by the administrator';

/** The local error recorded for a delivery aborted by the server's stop. */
export const shutdownError = 'shutdown';

/** What a delivery result (or an expiry) does to an envelope. */
export interface Outcome {
  /** the envelope to store, or undefined: it is done and leaves the spool */
  readonly envelope: StatedEnvelope | undefined;
  /** the mail log event (core channels' names) */
  readonly event: 'delivered' | 'bounced' | 'deferred' | 'expired';
  /** the result as recorded (status of the class its action implies) */
  readonly result: DeliveryStatus;
  /** the envelope the event and the notice describe */
  readonly subject: Envelope;
  /** a notice to send now (envelope.state is notice-pending with this kind) */
  readonly notice?: NoticeKind;
}

/** Gives an envelope its state once when it is loaded; envelopes that have one are returned as they are. */
export function withState(env: Envelope): StatedEnvelope {
  if (env.state !== undefined && envelopeStates.includes(env.state)) return env as StatedEnvelope;
  // Written before states existed: the hold flag, and a final outcome kept as the last attempt
  // (5.x.x: failure notice pending; 2.x.x: success notice pending). The only place that reads them.
  const status = env.attempts.at(-1)?.status;
  const notice: NoticeKind | undefined = status?.startsWith('5.') ? 'failure' : status?.startsWith('2.') ? 'success' : undefined;
  if (env.held === true) return stated(env, 'held', notice);
  if (notice !== undefined) return stated(env, 'notice-pending', notice);
  return stated(env, env.attempts.length > 0 ? 'deferred' : 'queued');
}

/** The fields every envelope has, named first in a copy. */
const commonFields = ['id', 'messageId', 'sender', 'recipient', 'route', 'arrivedAt', 'size', 'attempts', 'nextAttemptAt', 'dsn'] as const;

/**
 * `env` with `state` (and `notice`) set, every other field kept as given (unknown ones too), as
 * a spread would; but built from one literal, so that every copy shares V8's hidden class. A
 * spread at a site that sees envelopes of several shapes (new, loaded, changed) adds the fields
 * one by one from the plain-object map, whose transitions serve has used up by then: each copy
 * got a hidden class of its own (a map and descriptor array per queued envelope, and every read
 * of an envelope megamorphic).
 */
function stated(env: Envelope, state: EnvelopeState, notice?: NoticeKind): StatedEnvelope {
  const src = env as unknown as Record<string, unknown>;
  const e: Record<string, unknown> = {
    id: env.id, messageId: env.messageId, sender: env.sender, recipient: env.recipient, route: env.route,
    arrivedAt: env.arrivedAt, size: env.size, attempts: env.attempts, nextAttemptAt: env.nextAttemptAt, dsn: env.dsn, state,
  };
  for (const k of Object.keys(src)) if (!(k in e)) e[k] = src[k];
  if (notice !== undefined) e.notice = notice;
  // a common field the envelope lacks (a damaged file) stays absent, as a spread leaves it
  for (const k of commonFields) if (!Object.hasOwn(src, k)) delete e[k];
  return e as unknown as StatedEnvelope;
}

/** A status of the class the action implies (guards against a transport's mismatch). */
export function statusOfClass(s: EnhancedStatus | undefined, cls: 2 | 4 | 5): EnhancedStatus {
  const fallback = `${cls}.0.0` as EnhancedStatus;
  if (!s) return fallback;
  return s.startsWith(`${cls}.`) ? s : (`${cls}${s.slice(1)}` as EnhancedStatus);
}

/** The attempt that records a result. */
export function attemptOf(r: DeliveryStatus, at: number, status: EnhancedStatus = r.status): Attempt {
  return {
    at,
    status,
    ...(r.remoteMta !== undefined && { host: r.remoteMta }),
    ...(r.ip !== undefined && { ip: r.ip }),
    ...(r.reply !== undefined && { reply: r.reply }),
    ...(r.error !== undefined && { error: r.error }),
  };
}

/** The result a pending notice reports, read back from the recorded last attempt (after a restart or a failed notice). */
export function noticeResult(env: StatedEnvelope, kind: NoticeKind): DeliveryStatus {
  const a = env.attempts.at(-1);
  const action = kind === 'failure' ? 'failed' : kind === 'delay' ? 'delayed' : env.route.transport === 'local' ? 'delivered' : 'relayed';
  return {
    envelopeId: env.id,
    action,
    status: a?.status ?? (kind === 'failure' ? '5.0.0' : kind === 'delay' ? '4.0.0' : '2.0.0'),
    ...(a?.reply !== undefined && { reply: a.reply }),
    ...(a?.host !== undefined && { remoteMta: a.host }),
    ...(a?.ip !== undefined && { ip: a.ip }),
    ...(a?.error !== undefined && { error: a.error }),
  };
}

/** An envelope without the hold flag (an older reader would otherwise still see it held). */
function unheld(env: StatedEnvelope): StatedEnvelope {
  if (env.held === undefined) return env;
  const { held: _held, ...rest } = env;
  return rest;
}

/** An envelope with no pending notice recorded. */
function noNotice<E extends StatedEnvelope>(env: E): E {
  if (env.notice === undefined) return env;
  const { notice: _notice, ...rest } = env;
  return rest as E;
}

/** A final outcome: a notice pending (recorded, due now) or, when NOTIFY does not ask for one, done. */
function final(env: StatedEnvelope, kind: 'failure' | 'success', result: DeliveryStatus, now: number): StatedEnvelope | undefined {
  if (!notifyWants(env.dsn.notify, kind)) return undefined;
  return { ...unheld(env), state: 'notice-pending', notice: kind, nextAttemptAt: 0, attempts: [...env.attempts, attemptOf(result, now)] };
}

/**
 * Applies one delivery result. `env` is the envelope as it is now (an operator's hold made
 * while it was in delivery is kept on a temporary failure). `shutdown`: the attempt was cut
 * short by the server's stop, so it is due again at once after the restart.
 */
export function applyResult(env: StatedEnvelope, r: DeliveryStatus, now: number, policy: Scheduler, shutdown = false): Outcome {
  switch (r.action) {
    case 'delivered':
    case 'relayed':
    case 'expanded': {
      const result = { ...r, status: statusOfClass(r.status, 2) };
      // RFC 3461 §6.2: "relayed" notices only when the next hop will not send DSNs itself
      const envelope = r.action !== 'relayed' || r.remoteDsn === true ? final(env, 'success', result, now) : undefined;
      return { envelope, event: 'delivered', result, subject: env, ...(envelope && { notice: 'success' as const }) };
    }
    case 'failed': {
      const result = { ...r, status: statusOfClass(r.status, 5) };
      const envelope = final(env, 'failure', result, now);
      return { envelope, event: 'bounced', result, subject: env, ...(envelope && { notice: 'failure' as const }) };
    }
    default: {
      const result = { ...r, status: statusOfClass(r.status, 4) };
      const tried: StatedEnvelope = { ...noNotice(env), state: 'deferred', attempts: [...env.attempts, attemptOf(result, now)] };
      if (policy.decide(unheld(tried), now).kind === 'expire') return expire(tried, now);
      const nextAttemptAt = shutdown ? 0 : policy.nextAttempt(tried, now);
      const updated: StatedEnvelope = { ...tried, state: env.state === 'held' ? 'held' : 'deferred', nextAttemptAt };
      // the warning is recorded as pending before it is sent; its nextAttemptAt stays the retry time
      const warn = policy.delayWarningDue(updated, now);
      const envelope: StatedEnvelope = warn ? { ...updated, state: 'notice-pending', notice: 'delay' } : updated;
      return { envelope, event: 'deferred', result, subject: updated, ...(warn && { notice: 'delay' as const }) };
    }
  }
}

/** Gives up: 5.4.7 (RFC 3463 X.4.7 delivery time expired) with the last attempt's details. */
export function expire(env: StatedEnvelope, now: number): Outcome {
  const last = env.attempts.at(-1);
  const lastText = last?.reply ? formatReply(last.reply) : last?.error;
  const result: DeliveryStatus = {
    envelopeId: env.id,
    action: 'failed',
    status: '5.4.7',
    ...(last?.reply !== undefined && { reply: last.reply }),
    ...(last?.host !== undefined && { remoteMta: last.host }),
    ...(last?.ip !== undefined && { ip: last.ip }),
    error: lastText ? `delivery time expired; last error: ${lastText}` : 'delivery time expired',
  };
  const envelope = final(env, 'failure', result, now);
  return { envelope, event: 'expired', result, subject: env, ...(envelope && { notice: 'failure' as const }) };
}

/** A notice of `kind` was sent: failure/success → done (undefined); delay → deferred again, warned. */
export function noticeSent(env: StatedEnvelope, kind: NoticeKind, now: number): StatedEnvelope | undefined {
  if (kind !== 'delay') return undefined;
  return { ...noNotice(env), state: env.state === 'held' ? 'held' : 'deferred', delayWarnedAt: now };
}

/**
 * A notice of `kind` could not be sent: failure/success stay pending and are tried again when
 * the policy says; a delay warning is dropped (it is due again at the next deferral).
 */
export function noticeFailed(env: StatedEnvelope, kind: NoticeKind, now: number, policy: Scheduler): StatedEnvelope {
  const held = env.state === 'held';
  if (kind === 'delay') return { ...noNotice(env), state: held ? 'held' : 'deferred' };
  return { ...env, state: held ? 'held' : 'notice-pending', notice: kind, nextAttemptAt: policy.nextAttempt(env, now) };
}

/** Holds: never tried until released; a failure or success notice pending stays recorded. */
export function hold(env: StatedEnvelope): StatedEnvelope | undefined {
  if (env.state === 'held') return undefined;
  const kept = env.notice === 'delay' ? noNotice(env) : env;
  return { ...kept, state: 'held', held: true };
}

/** Releases a held envelope: due now (its pending notice, or a delivery attempt). */
export function release(env: StatedEnvelope): StatedEnvelope | undefined {
  if (env.state !== 'held') return undefined;
  return { ...unheld(env), state: env.notice !== undefined ? 'notice-pending' : 'queued', nextAttemptAt: 0 };
}

/** Makes an envelope due now (a deferred one is queued again); held ones stay held (undefined). */
export function flush(env: StatedEnvelope): StatedEnvelope | undefined {
  if (env.state === 'held') return undefined;
  const state = env.state === 'deferred' ? 'queued' : env.state;
  if (env.nextAttemptAt === 0 && state === env.state) return env;
  return { ...env, state, nextAttemptAt: 0 };
}

/** Fails an envelope now (5.0.0, operator bounce): its failure notice is pending, due now. */
export function bounce(env: StatedEnvelope, now: number): StatedEnvelope {
  return {
    ...unheld(env),
    state: 'notice-pending',
    notice: 'failure',
    nextAttemptAt: 0,
    attempts: [...env.attempts, { at: now, status: '5.0.0', error: operatorBounceText }],
  };
}

export type ControlAction = 'flush' | 'hold' | 'release' | 'delete' | 'bounce';

/** What an operator action does to one envelope: nothing (skip), counted without change (keep), store, or remove. */
export type ControlChange =
  | { readonly kind: 'skip' }
  | { readonly kind: 'keep' }
  | { readonly kind: 'put'; readonly envelope: StatedEnvelope }
  | { readonly kind: 'delete' };

/** The one table of operator actions, used by the server (online) and the CLI (offline). */
export function applyControl(action: ControlAction, env: StatedEnvelope, now: number): ControlChange {
  if (action === 'delete') return { kind: 'delete' };
  const next = action === 'flush' ? flush(env) : action === 'hold' ? hold(env) : action === 'release' ? release(env) : bounce(env, now);
  if (next === undefined) return { kind: 'skip' };
  return next === env ? { kind: 'keep' } : { kind: 'put', envelope: next };
}
