/**
 * @module page
 * The console's frame shared by its views: the view area, the status line (what an action did
 * or why it failed), and `show`, which draws a view in place of the last (stopping the last
 * one's refresh).
 * Standards: WHATWG DOM.
 * Security: messages are text nodes.
 * Limitations: none.
 */
import { h, replace } from '../common/dom.js';
import { ApiError } from './admin-client.js';

export const main = h('main', { id: 'view' });
export const status = h('p', { id: 'status', role: 'status' });
let refreshTimer: number | undefined;
let unauthorized: (message: string) => void = () => undefined;

/** What to do when the server no longer takes the credentials (console.ts: the login form). */
export function onUnauthorized(fn: (message: string) => void): void {
  unauthorized = fn;
}

export function stopRefresh(): void {
  if (refreshTimer !== undefined) window.clearInterval(refreshTimer);
  refreshTimer = undefined;
}

/** Calls `fn` every `ms` until another view is shown. */
export function refreshEvery(ms: number, fn: () => Promise<void>): void {
  stopRefresh();
  refreshTimer = window.setInterval(() => void attempt(fn), ms);
}

/** Shows a line under the navigation: what an action did, or why it failed. */
export function say(text: string, error = false): void {
  status.className = error ? 'error' : 'ok';
  replace(status, text);
}

/** Runs an action and reports its failure in the status line. */
export async function attempt(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return unauthorized('Your credentials are no longer accepted: log in again.');
    say(err instanceof Error ? err.message : String(err), true);
  }
}

/** Draws a view in place of the last one. */
export function show(view: () => Promise<Node>): void {
  stopRefresh();
  void attempt(async () => replace(main, await view()));
}
