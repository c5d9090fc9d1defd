/**
 * @module check
 * A policy check and the rule that runs a stage: each check is a small named object that looks
 * at what is known at its stage and refuses with a reply or passes (undefined); a stage runs its
 * checks in order and answers with the first refusal (Postfix's smtpd_*_restrictions, Haraka's
 * hooks; DESIGN.md "Policy as named checks per stage").
 * Standards: RFC 5321 §3.3 (the stages of a transaction).
 * Security: a check that throws a MailError refuses with its reply; any other error is the
 *   caller's (the session answers 451 4.3.0: unknown errors are temporary, never a pass).
 * Limitations: no "accept at once" verdict: a check either refuses or defers to the next.
 * Performance: a stage runs on every command of every session; checks that answer at once are
 *   run without an async frame or a promise per check (one shared resolved promise when all
 *   pass), which cut the policy layer's allocations per accepted message (docs/performance.md,
 *   session 6).
 */
import type { SmtpReply } from '../core/index.js';

/** One named check: a refusal, or undefined to pass on to the next check of the stage. */
export interface Check<F> {
  /** short, stable, kebab-case: shown by docs and used in tests */
  readonly name: string;
  check(facts: F): SmtpReply | undefined | Promise<SmtpReply | undefined>;
}

const PASS: Promise<SmtpReply | undefined> = Promise.resolve(undefined);

/** Runs `checks` in order (from index `from`); the first refusal, or undefined when every check passes. */
export function firstRefusal<F>(checks: readonly Check<F>[], facts: F, from = 0): Promise<SmtpReply | undefined> {
  try {
    for (let i = from; i < checks.length; i++) {
      const r = checks[i].check(facts);
      if (r instanceof Promise) return r.then((v) => (v !== undefined ? v : firstRefusal(checks, facts, i + 1)));
      if (r !== undefined) return Promise.resolve(r);
    }
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return PASS;
}
