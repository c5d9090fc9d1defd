/**
 * @module queue
 * The spool's storage (QueueStore backends) and the retry scheduler. Backends: the files
 * backend (fs-queue-store.ts, the default spool) and an in-memory one (memory-queue-store.ts,
 * for tests and tools; the shape a database backend takes). Operator actions on any QueueStore
 * are in queue-control.ts.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { FsQueueStore, spoolFormat, type FsQueueStoreOptions, type RecoveryReport } from './fs-queue-store.js';
export { messageIdOfEnvelope } from './queue-ids.js';
export { MemoryQueueStore, MemorySpool, type MemoryQueueStoreOptions } from './memory-queue-store.js';
export { RetryScheduler, defaultRetryOptions, type RetrySchedulerOptions } from './retry-scheduler.js';
export { storageError, isStorageFull } from './storage-error.js';
export {
  listQueue, findQueued, findQueuedMessage, flushQueued, holdQueued, releaseQueued, deleteQueued, bounceQueued,
  pendingNotice, operatorBounceText, type QueuedMessage,
} from './queue-control.js';
