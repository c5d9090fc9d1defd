/**
 * @module queue
 * Spool backends (QueueStore) and the retry scheduler. The files backend is the default;
 * the PostgreSQL backend lives beside it.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { FsQueueStore, messageIdOfEnvelope, spoolFormat, type FsQueueStoreOptions, type RecoveryReport } from './fs-queue-store.js';
export { RetryScheduler, defaultRetryOptions, type RetrySchedulerOptions } from './retry-scheduler.js';
export { storageError, isStorageFull } from './storage-error.js';
export {
  listQueue, findQueued, findQueuedMessage, flushQueued, holdQueued, releaseQueued, deleteQueued, bounceQueued,
  pendingNotice, operatorBounceText, type QueuedMessage,
} from './queue-control.js';
