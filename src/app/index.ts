/**
 * @module app
 * The composition root: config → backends → services. PLACEHOLDER written by the CLI helper so
 * that `correio serve` compiles; the lead replaces this file with the real startApp.
 * Standards: none. Security: none. Limitations: not implemented yet.
 */
import type { Config } from '../config/index.js';

export interface RunningApp {
  stop(): Promise<void>;
}

export async function startApp(_config: Config): Promise<RunningApp> {
  throw new Error('not implemented: correio serve (src/app is not written yet)');
}
