/**
 * @module queue
 * The spool's storage (QueueStore backends), the retry policy, the envelope state transitions,
 * the in-memory queue scheduler and the offline queue control. Backends: the files backend
 * (fs-queue-store.ts, the default spool), the PostgreSQL one for several nodes
 * (pg-queue-store.ts, with leases in pg-envelope-leases.ts and bodies over 1 MiB streamed by
 * pg-streamed-body.ts) and an in-memory one (memory-queue-store.ts, for tests
 * and tools; the shape a database backend takes). Operator actions on any QueueStore are in
 * queue-control.ts (StoreQueueControl).
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { FsQueueStore, spoolFormat, type FsQueueStoreOptions, type RecoveryReport } from './fs-queue-store.js';
export type { SegRef } from './segment-messages.js';
export { PgQueueStore, type PgQueueStoreOptions } from './pg-queue-store.js';
export { queueSchema } from './pg-queue-schema.js';
export { MemoryQueueStore, MemorySpool, type MemoryQueueStoreOptions } from './memory-queue-store.js';
export { RetryScheduler, defaultRetryOptions, type RetrySchedulerOptions } from './retry-scheduler.js';
export { storageError, isStorageFull } from './storage-error.js';
export {
  withState, applyResult, expire, noticeSent, noticeFailed, noticeResult, hold, release, flush, bounce, applyControl,
  statusOfClass, attemptOf, operatorBounceText, shutdownError,
  type Outcome, type ControlAction, type ControlChange,
} from './envelope-transitions.js';
export {
  listQueue, listQueuePage, pageOfIds, pageSlack, walkQueue, findQueued, findQueuedMessage, StoreQueueControl,
  type QueuedMessage, type QueuePage, type QueueWalkOptions,
} from './queue-control.js';
export { QueueScheduler, type QueueSchedulerOptions, type StateCount } from './queue-scheduler.js';
export type { Batch } from './ready-set.js';
export { MessageIdSet } from './message-id-set.js';
export { spoolFormatName } from './spool-layout.js';
