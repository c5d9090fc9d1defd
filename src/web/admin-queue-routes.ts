/**
 * @module admin-queue-routes
 * The admin API's queue: listing with filters (state, sender, recipient, route) and pages
 * (limit, since: what `correio queue list --limit --since` takes), one message
 * in full, its trace, a summary by state, and the actions flush, hold, release, delete and
 * bounce, for one id or in bulk. Listings and traces are admin/queue-report.ts and
 * admin/message-trace.ts (what `correio queue list --json`, `queue show --json` and `trace`
 * show); actions go through the QueueControl the control socket serves, so the queue runner
 * stays the one owner of delivery state.
 * Standards: seed §2 (deferred mail kept and retried); RFC 3464 (bounce = failure notice).
 * Security: behind the admin API's authorize; ids are matched against the spool, never used
 *   as paths.
 * Limitations: a bulk action runs its ids one after another and reports each; it is not one
 *   transaction (neither is the CLI's).
 */
import type { Context, Hono } from 'hono';
import type { WebEnv } from './http-auth.js';
import type { QueueControl } from '../core/index.js';
import { findQueued, findQueuedMessage, listQueue, listQueuePage, walkQueue, type QueuedMessage } from '../queue/index.js';
import {
  AdminError, filterQueue, isoTime, maxPageLimit, messageJson, parsePageLimit, parseSince, sinceForms, stateLabel, stateLabels, traceWithHistory,
  type QueueFilter, type StateLabel,
} from '../admin/index.js';
import { callerOf, jsonBody, stringField, type AdminApiDeps } from './admin-request.js';

export const queueActions = ['flush', 'hold', 'release', 'delete', 'bounce'] as const;
export type QueueAction = (typeof queueActions)[number];

function isAction(s: string): s is QueueAction {
  return (queueActions as readonly string[]).includes(s);
}

function filterOf(q: (key: string) => string | undefined): QueueFilter {
  const state = q('state');
  if (state !== undefined && !(stateLabels as readonly string[]).includes(state)) {
    throw new AdminError(`state must be one of ${stateLabels.join(', ')}`);
  }
  const nonEmpty = (k: string): string | undefined => (q(k) === '' ? undefined : q(k));
  return { state: state as StateLabel | undefined, sender: nonEmpty('sender'), recipient: nonEmpty('recipient'), route: nonEmpty('route') };
}

export function queueRoutes(app: Hono<WebEnv>, deps: AdminApiDeps): void {
  const store = deps.queue;
  // the queue runner's actions, logged with who asked
  const controlOf = (c: Context<WebEnv>): QueueControl => deps.controlAs?.(callerOf(c)) ?? deps.control;

  async function act(control: QueueControl, action: QueueAction, id: string): Promise<number> {
    if ((await findQueued(store, id)).length === 0) throw new AdminError(`no such message: ${id}`, 'not-found');
    return action === 'flush' ? control.flush(id) : control[action](id);
  }

  // oldest first; limit= gives one page (only its messages and one more are read, filters aside)
  // and, when more messages follow it, the Correio-Next-Since header: the since= of the next page
  // (with a filter, whenever the page is full: more may follow; listQueuePage)
  app.get('/queue', async (c) => {
    const now = Date.now();
    const q = (k: string): string | undefined => c.req.query(k);
    const f = filterOf(q);
    // no filter function without a filter: a page then knows exactly whether more follow
    const filtered = Object.values(f).some((v) => v !== undefined);
    const filter = filtered ? (m: QueuedMessage): boolean => filterQueue([m], f, now).length > 0 : undefined;
    const limitText = q('limit');
    const limit = limitText === undefined ? undefined : parsePageLimit(limitText);
    if (limitText !== undefined && limit === undefined) throw new AdminError(`limit must be a whole number of messages from 1 to ${maxPageLimit}`);
    const sinceText = q('since');
    const after = sinceText === undefined ? undefined : parseSince(sinceText);
    if (sinceText !== undefined && after === undefined) throw new AdminError(`since must be ${sinceForms}`);
    if (limit === undefined) {
      const all: QueuedMessage[] = [];
      for await (const m of walkQueue(store, { after, filter })) all.push(m);
      return c.json(all.map((m) => messageJson(m, now)));
    }
    const page = await listQueuePage(store, { limit, after, filter });
    if (page.next !== undefined) c.header('Correio-Next-Since', page.next);
    return c.json(page.messages.map((m) => messageJson(m, now)));
  });

  app.get('/queue/summary', async (c) => {
    const now = Date.now();
    const byState: Record<StateLabel, number> = { active: 0, deferred: 0, held: 0, bouncing: 0, delivered: 0 };
    let messages = 0;
    let octets = 0;
    let oldestDeferred: number | undefined;
    for (const m of await listQueue(store)) {
      messages++;
      octets += m.size;
      for (const e of m.envelopes) {
        const s = stateLabel(e, now);
        byState[s]++;
        if (s === 'deferred' && (oldestDeferred === undefined || m.arrivedAt < oldestDeferred)) oldestDeferred = m.arrivedAt;
      }
    }
    return c.json({ messages, octets, envelopes: byState, oldestDeferred: oldestDeferred !== undefined ? isoTime(oldestDeferred) : null });
  });

  // every envelope made due now (held ones stay held), as `correio queue flush` without an id
  app.post('/queue/flush', async (c) => c.json({ action: 'flush', count: await controlOf(c).flush() }));

  app.post('/queue/actions', async (c) => {
    const b = await jsonBody(c);
    const action = stringField(b, 'action');
    if (!isAction(action)) throw new AdminError(`"action" must be one of ${queueActions.join(', ')}`);
    const ids = b.ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => typeof x === 'string')) throw new AdminError('"ids" must be a non-empty array of strings');
    const results: { id: string; count?: number; error?: string }[] = [];
    for (const id of ids) {
      try {
        results.push({ id, count: await act(controlOf(c), action, id) });
      } catch (err) {
        if (!(err instanceof AdminError)) throw err;
        results.push({ id, error: err.message });
      }
    }
    return c.json({ action, results });
  });

  app.get('/queue/:id', async (c) => {
    const m = await findQueuedMessage(store, c.req.param('id'));
    if (!m) throw new AdminError(`no such message: ${c.req.param('id')}`, 'not-found');
    return c.json(messageJson(m, Date.now(), true));
  });

  app.get('/queue/:id/trace', async (c) => {
    const id = c.req.param('id');
    // recipients gone from the queue (or the whole message): from the delivery history, as `correio trace` does
    const t = await traceWithHistory(store, deps.config().dataDir, id);
    if (!t) throw new AdminError(`no such message: ${id} is not in the queue or in the delivery history (older than [log] history, deleted, or never queued)`, 'not-found');
    return c.json(t);
  });

  app.post('/queue/:id/:action', async (c) => {
    const action = c.req.param('action');
    if (!isAction(action)) throw new AdminError(`no such action: ${action} (one of ${queueActions.join(', ')})`, 'not-found');
    return c.json({ id: c.req.param('id'), action, count: await act(controlOf(c), action, c.req.param('id')) });
  });
}
