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
 */
import type { SmtpReply } from '../core/index.js';

/** One named check: a refusal, or undefined to pass on to the next check of the stage. */
export interface Check<F> {
  /** short, stable, kebab-case: shown by docs and used in tests */
  readonly name: string;
  check(facts: F): SmtpReply | undefined | Promise<SmtpReply | undefined>;
}

/** Runs `checks` in order; the first refusal, or undefined when every check passes. */
export async function firstRefusal<F>(checks: readonly Check<F>[], facts: F): Promise<SmtpReply | undefined> {
  for (const c of checks) {
    const r = await c.check(facts);
    if (r !== undefined) return r;
  }
  return undefined;
}
