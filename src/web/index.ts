/**
 * @module web
 * HTTP front ends (DESIGN.md §2 layer 5): the monitoring endpoints (/metrics, /healthz,
 * /readyz) and the web server (issue 16) with its authentication, into which the modules are
 * mounted (app/web-services.ts): the admin REST API (/api/admin/v1, admin-api.ts), JMAP
 * (jmap/), HTTP submission and the front ends.
 * Standards: RFC 9110. Security: see each module. Limitations: see each module.
 */
export { MetricsServer, type MetricsServerOptions } from './metrics-server.js';
export { HttpServer, createWebApp, type WebMount, type WebAppOptions, type HttpListenSpec, type TlsMaterial } from './http-server.js';
export { HttpAuth, type HttpAuthOptions, type HttpAuthSettings, type WebPrincipal, type WebEnv, type WebAccess } from './http-auth.js';
export { problem, connectionOf, type ConnectionInfo } from './problem.js';
export { whoamiApp } from './whoami.js';
export { sessionApp, cspReportApp, type SessionAppOptions } from './session-app.js';
export { csrfHeader, sessionCookieName } from './browser-session.js';
export { adminApi, ADMIN_API_BASE, type AdminApiDeps, type AdminCheckFinding } from './admin-api.js';
export { adminOpenApi } from './admin-openapi.js';
export { jmapApp, wellKnownJmapApp, sessionObject, type JmapOptions } from './jmap/jmap-app.js';
export { MailView } from './jmap/mail-view.js';
export { EmailSearch } from './jmap/email-search.js';
export { startIndexWarmer } from './jmap/index-warmer.js';
export { adminConsoleApp, uiModulesApp, pageCsp } from './ui-files.js';
export { submissionApi, SUBMISSION_API_BASE, type SubmissionApiDeps, type SubmissionCaller } from './submission-api.js';
export { BlobStore } from './jmap/blob-store.js';
export { webmailPageApp, webmailAssetsApp, webmailApiApp, webmailCsp } from './webmail/index.js';
export { PgIdempotencyStore, IDEMPOTENCY_CLAIM_MS } from './pg-idempotency-store.js';
export { SqliteIdempotencyStore, MemoryIdempotencyStore, IDEMPOTENCY_TTL_MS, type IdempotencyStore, type IdempotencyClaim, type IdempotentAnswer } from './idempotency-store.js';
