/**
 * @module web
 * HTTP front ends (DESIGN.md §2 layer 5): so far the monitoring endpoints (/metrics, /healthz,
 * /readyz). Standards: RFC 9110. Security: see each module. Limitations: no JMAP or admin API yet.
 */
export { MetricsServer, type MetricsServerOptions } from './metrics-server.js';
