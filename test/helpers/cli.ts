/**
 * @module test-cli
 * Runs the real `correio` command in a child process: `node bin/correio.js` when the tests are
 * compiled (dist/), or src/cli/main.ts through tsx when they run from source.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** written to the child's stdin, then closed (stdin is closed empty when absent) */
  stdin?: string;
  /** merged over process.env; CORREIO_CONFIG is removed unless given here */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** kill the child after this many ms (default 60 s) */
  timeoutMs?: number;
}

const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');

/** The argv prefix that starts correio: [execPath, ...this, ...args]. */
export function cliCommand(): string[] {
  if (fromSource) {
    const tsx = join(projectRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs');
    return ['--import', `file://${tsx}`, join(projectRoot, 'test', 'helpers', 'cli-launcher.ts')];
  }
  const bin = join(projectRoot, 'bin', 'correio.js');
  if (!existsSync(join(projectRoot, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('dist/src/cli/main.js is missing: run `npm run build` first');
  }
  return [bin];
}

export function runCli(args: readonly string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, CORREIO_CONFIG: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [...cliCommand(), ...args], {
    cwd: opts.cwd ?? projectRoot,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => undefined); // the child may exit before reading stdin
  child.stdin.end(opts.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs `correio ARGS --config FILE`, failing the test (with its stderr) unless it exits 0; its stdout. */
export async function runCliOk(configFile: string, ...args: string[]): Promise<string> {
  const r = await runCli([...args, '--config', configFile]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}
