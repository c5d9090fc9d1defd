/**
 * @module resolve-report
 * The JSON shape of a resolved target, as `correio resolve --json` prints it and the admin
 * API's resolve returns it (the console draws the tree and these leaves).
 * Standards: seed §2, §2.1 (alias expansion decides between the incoming and outgoing queue).
 * Security: read-only.
 * Limitations: none.
 */
import { formatReply, routeKey, targetRoute, type ResolvedRecipient } from '../core/index.js';

export function targetJson(t: ResolvedRecipient): Record<string, unknown> {
  const base = { kind: t.kind, via: t.via };
  switch (t.kind) {
    case 'mailbox':
      return { ...base, user: t.user, address: `${t.address.local}@${t.address.domain}`, ...(t.detail !== undefined ? { detail: t.detail } : {}) };
    case 'remote':
      return { ...base, address: `${t.address.local}@${t.address.domain}`, route: routeKey(targetRoute(t)) };
    // runAs: who runs it (a target of an include file); absent: the transport's default user
    case 'pipe':
      return { ...base, command: t.command, ...(t.runAs ? { runAs: t.runAs } : {}) };
    case 'file':
      return { ...base, path: t.path, ...(t.runAs ? { runAs: t.runAs } : {}) };
    case 'list':
      return { ...base, list: t.list, owner: t.owner, members: t.members };
    case 'webhook':
      return { ...base, url: t.url, route: routeKey(targetRoute(t)) };
    case 'error':
      return { ...base, reply: formatReply(t.reply) };
  }
}
