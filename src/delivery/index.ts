/**
 * @module delivery
 * The background delivery process: the queue runner (due envelopes → transports → retries,
 * bounces, delay notices) and the DSN notifier it reports through.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { QueueRunner, type QueueRunnerOptions } from './queue-runner.js';
export { DsnNotifier, internalSession, notifyWants, type DsnNotifierOptions } from './dsn-notifier.js';
