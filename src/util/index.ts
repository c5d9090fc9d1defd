/**
 * @module util
 * Mail-agnostic helpers: durable file writes, coalesced directory fsyncs, durations, sizes,
 * backoff math, sortable unique ids, per-key locks, which URLs may be posted to, one timer for a
 * connection's successive waits, a stream's chunks read without an async iterator, a server's
 * open sessions in a list that leaves no stale pointers for the garbage collector, a list in
 * chunks that forks cheaply, an object copied with fields added (without V8's slow path for a spread),
 * an error's OS condition as plain data.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export {
  atomicWriteFile, renameDurable, writeFileDurable, type AtomicWriteOptions,
} from './atomic-write-file.js';
export { DirSyncer, fsyncDir, isUnsupported as dirSyncUnsupported } from './dir-syncer.js';
export { parseDuration } from './parse-duration.js';
export { parseSize } from './parse-size.js';
export { ageBackoff, clamp } from './backoff.js';
export { uniqueId, uniqueIdAlphabet, isUniqueId, uniqueIdTimePrefix } from './unique-id.js';
export { KeyedMutex } from './keyed-mutex.js';
export { clearAfterTurn, TurnValue } from './turn-memo.js';
export { fileSink, writeAll, type FileSinkOptions } from './file-sink.js';
export { MemoryReclaimer, collectGarbage } from './reclaim-memory.js';
export { isErrnoCode, osCause, type OsCause } from './os-cause.js';
export {
  openPgPool, migrateSchema, schemaStatus, inTransaction, isPostgresUrl, SchemaVersionError,
  type PgPool, type PgClient, type SchemaComponent, type SchemaMigration, type ComponentStatus,
} from './pg-database.js';
export { PgChunkSink, readPgChunks } from './pg-chunks.js';
export { listenOn, boundPort } from './listen-on.js';
export { PgListenSession, listenHears, type PgListenHandlers, type PgListenOptions } from './pg-listen-session.js';
export { httpUrlProblem } from './http-url.js';
export { findPortHolder, type PortHolder } from './port-holder.js';
export { pidAlive } from './pid-alive.js';
export { WaitDeadline } from './wait-deadline.js';
export { LiveList, type LiveEntry } from './live-list.js';
export { nextChunk, readWhole } from './body-chunks.js';
export { ChunkQueue } from './chunk-queue.js';
export { copyWith } from './copy-with.js';
export { ChunkedList } from './chunked-list.js';
