/**
 * @module web
 * HTTP front ends (DESIGN.md §2 layer 5): the monitoring endpoints (/metrics, /healthz,
 * /readyz) and the admin REST API (/api/admin/v1, admin-api.ts).
 * Standards: RFC 9110. Security: see each module. Limitations: see each module.
 */
export { MetricsServer, type MetricsServerOptions } from './metrics-server.js';
export { adminApi, ADMIN_API_BASE, type AdminApiDeps, type AdminCheckFinding } from './admin-api.js';
export { adminOpenApi } from './admin-openapi.js';
