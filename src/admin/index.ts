/**
 * @module admin
 * The operator's operations and views (layer 4, docs/design-changes.md), shared by the
 * `correio` commands and the admin API so that both accept, refuse and show the same things:
 * directory changes with their input rules, the queue's report and filters, a message's trace,
 * the JSON of resolved targets.
 * Standards: see each module. Security: callers check the operator's rights.
 * Limitations: see each module.
 */
export { AdminError, type AdminErrorKind } from './admin-error.js';
export * from './directory-operations.js';
export * from './queue-report.js';
export { traceMessage, traceOf, type MessageTrace, type RecipientTrace } from './message-trace.js';
export { traceWithHistory } from './past-trace.js';
export { targetJson } from './resolve-report.js';
export { auditedDirectory, type DirectoryChange } from './audited-directory.js';
