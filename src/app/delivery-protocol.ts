/**
 * @module delivery-protocol
 * The messages between the main thread and the delivery worker (delivery-worker.ts), all plain
 * data that survives the structured clone of postMessage.
 * Standards: none.
 * Security: plain data only; nothing from the network crosses without having been parsed first.
 * Limitations: none.
 */
import type { Envelope } from '../core/index.js';
import type { Config } from '../config/index.js';
import type { ControlRequest, ControlResponse } from './control.js';

export interface WorkerData {
  readonly kind: 'correio-delivery';
  readonly config: Config;
}

/** main thread → worker */
export type ToWorker =
  | { t: 'enqueue'; envelopes: readonly Envelope[] }
  | { t: 'rpc'; id: number; req: ControlRequest }
  | { t: 'stop' };

/** worker → main thread */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'events'; events: { channel: string; message: unknown }[] }
  | { t: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { t: 'rpc'; id: number; res: ControlResponse }
  | { t: 'stopped' }
  | { t: 'fatal'; error: unknown };

/** A copy of `v` that postMessage can clone: errors become { name, message, stack, code }. */
export function cloneable(v: unknown): unknown {
  const seen = new WeakSet<object>();
  const walk = (x: unknown, depth: number): unknown => {
    if (x === null || typeof x !== 'object') return typeof x === 'function' || typeof x === 'symbol' ? String(x) : x;
    if (seen.has(x) || depth > 8) return '[…]';
    seen.add(x);
    if (x instanceof Error) {
      const code = (x as NodeJS.ErrnoException).code;
      return { name: x.name, message: x.message, stack: x.stack, ...(code !== undefined && { code }), ...(x.cause !== undefined && { cause: walk(x.cause, depth + 1) }) };
    }
    if (Array.isArray(x)) return x.map((e) => walk(e, depth + 1));
    return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, walk(e, depth + 1)]));
  };
  return walk(v, 0);
}
