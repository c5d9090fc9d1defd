/**
 * @module expansion-walk
 * The state of one recipient's expansion (alias-resolver.ts walks it) and what it yields: the
 * targets, each once (seed §2.1: a mailbox reached twice gets one copy), the tree shown by
 * `correio resolve` and the HTTP API, and the final answer when the walk found nothing to
 * deliver to (a loop, or no such user) or too much (list expansion failed).
 * Standards: RFC 5321 §3.9 (aliases and lists), RFC 3463 (X.4.6 routing loop, X.2.4 list
 *   expansion problem).
 * Security: the number of targets is bounded (maxTargets): one recipient cannot fan out without
 *   limit.
 * Limitations: targets are told apart by targetKey (a mailbox by user, a remote address by its
 *   lower-cased form, pipes and files by command or path and who runs them).
 */
import {
  addressToString, formatReply, replies, routeKey, targetRoute,
  type Address, type ResolvedRecipient, type TargetBody, type Trace,
} from '../core/index.js';
import { copyWith } from '../util/index.js';

export type ExpansionKind =
  | 'alias'
  | 'catch-all'
  | 'role'
  | 'list'
  | 'list-owner'
  | 'include'
  | 'mailbox'
  | 'remote'
  | 'pipe'
  | 'file'
  | 'webhook'
  | 'error'
  | 'loop'
  | 'duplicate';

/** One step of an expansion, for `correio resolve` and the HTTP API. */
export interface ExpansionNode {
  /** what was looked at: an address, "@domain", "|command", "/path", ":include:/path" */
  readonly name: string;
  readonly kind: ExpansionKind;
  /** where an alias came from: "directory" or the aliases file's path */
  readonly source?: string;
  /** the `+detail` of a mailbox leaf */
  readonly detail?: string;
  /** for leaves: "local:user@domain", "smtp:domain" or the configured route, "pipe:…", "file:…", "list:…" */
  readonly route?: string;
  /** for error leaves: the reply, e.g. "550 5.1.1 No such user here" */
  readonly reply?: string;
  /** a human remark: "holder of the role", "self-reference: own mailbox", "not expanded: already a member" */
  readonly note?: string;
  readonly children: ExpansionNode[];
}

export interface Explanation {
  readonly tree: ExpansionNode;
  /** exactly what resolve() returns for the address with the same trace */
  readonly targets: ResolvedRecipient[];
}

/** The state of one recipient's expansion. */
export interface Walk {
  readonly original: Address;
  readonly trace: Trace;
  readonly targets: ResolvedRecipient[];
  readonly keys: Set<string>;
  loop: boolean;
  overflow: boolean;
  /** explain(): the tree is made, list members shown in it (as the list transport will re-inject them); resolve() makes no tree */
  readonly showMembers: boolean;
}

export const noChildren: ExpansionNode[] = [];

function targetKey(t: TargetBody): string {
  switch (t.kind) {
    case 'mailbox':
      return `mailbox:${t.user.toLowerCase()}`;
    case 'remote':
      return `remote:${addressToString(t.address).toLowerCase()}`;
    case 'pipe':
    case 'file':
      // the route's next hop: the command or path, and who runs it
      return `${t.kind}:${targetRoute(t).nextHop}`;
    case 'list':
      return `list:${t.list.toLowerCase()}`;
    case 'webhook':
      return `webhook:${t.url}`;
    case 'error':
      return `error:${formatReply(t.reply)}`;
  }
}

/**
 * Records target `t` reached by `via` (shown as `name`) and returns its tree node: a target
 * already recorded is shown as a duplicate (the same refusal twice as an error), one beyond
 * `maxTargets` ends the expansion (overflow).
 */
export function addTarget(w: Walk, t: TargetBody, via: readonly string[], name: string, maxTargets: number, extra: Partial<ExpansionNode> = {}): ExpansionNode {
  const key = targetKey(t);
  const duplicate = w.keys.has(key);
  const overflow = !duplicate && w.targets.length >= maxTargets;
  if (overflow) w.overflow = true;
  else if (!duplicate) {
    w.keys.add(key);
    w.targets.push(copyWith(t, { original: w.original, via: [...via] }));
  }
  // resolve() (every RCPT) keeps only the targets: the node, its route key and reply text are
  // for explain()'s tree (correio resolve, the HTTP API), which also shows list members
  if (!w.showMembers) return unshownNode;
  const base = {
    name,
    ...(t.kind === 'error' ? { reply: formatReply(t.reply) } : { route: routeKey(targetRoute(t)) }),
    ...extra,
    children: noChildren,
  };
  // the same refusal twice is one error target, but each refused leaf is still shown as refused
  if (duplicate) return t.kind === 'error' ? { ...base, kind: 'error' } : { ...base, kind: 'duplicate', note: `already a target (${t.kind})` };
  if (overflow) return { ...base, kind: 'error', reply: formatReply(replies.listExpansionFailed()), note: 'too many targets' };
  return { ...base, kind: t.kind === 'list' ? 'list' : t.kind };
}

/** What addTarget gives resolve(), which shows no tree. */
const unshownNode: ExpansionNode = Object.freeze({ name: '', kind: 'mailbox', children: noChildren });

export function walkTargets(w: Walk): ResolvedRecipient[] {
  if (w.overflow) return [{ kind: 'error', reply: replies.listExpansionFailed(), original: w.original, via: [] }];
  // Every branch ended in a name already being expanded: a cycle with no mailbox (seed §2.1).
  if (w.targets.length === 0) return [{ kind: 'error', reply: w.loop ? replies.mailLoop() : replies.noSuchUser(), original: w.original, via: [] }];
  return w.targets;
}
