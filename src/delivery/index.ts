/**
 * @module delivery
 * The background delivery process: the queue runner, a dispatcher (due batches from the
 * queue scheduler → transports → outcomes through the envelope transitions), its notice sender,
 * and the DSN notifier it reports through.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { QueueRunner, type QueueRunnerOptions } from './queue-runner.js';
export { NoticeSender, type NoticeSenderOptions, type PendingNotice } from './notice-sender.js';
export { DsnNotifier, internalSession, notifyWants, type DsnNotifierOptions } from './dsn-notifier.js';
