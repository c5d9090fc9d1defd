/**
 * @module intake
 * The one way into the spool. See intake-service.ts.
 * Standards: RFC 5321 §4.4, §6.3; RFC 6409 §8. Security: commit before acceptance.
 * Limitations: see intake-service.ts.
 */
export { IntakeService, type IntakeOptions } from './intake-service.js';
