/**
 * @module core
 * The vocabulary and interfaces every other folder shares. Imports nothing outside itself
 * (type-only imports of node:stream excepted).
 * Standards: see each module. Security: see each module. Limitations: none.
 */
export * from './address.js';
export * from './smtp-reply.js';
export * from './replies.js';
export * from './enhanced-status.js';
export * from './envelope.js';
export * from './queue-store.js';
export * from './transport.js';
export * from './directory.js';
export * from './resolver.js';
export * from './mailbox-store.js';
export * from './mail-folders.js';
export * from './scheduler.js';
export * from './queue-control.js';
export * from './intake.js';
export * from './policy.js';
export * from './events.js';
export * from './api-tokens.js';
export * from './web-sessions.js';
export * from './mail-search.js';
export * from './mail-threads.js';
export * from './email-aliases.js';
export * from './submission.js';
export * from './quota.js';
