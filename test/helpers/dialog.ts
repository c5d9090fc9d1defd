/**
 * @module test-dialog
 * Runs a protocol transcript against a server, like the seed's figure 5:
 *   C: line        the client sends "line" + CRLF
 *   S: line        the next server line must equal "line" exactly
 *   S~ regex       the next server line must match the regular expression (anchored)
 *   # comment      ignored, as are blank lines
 * "{host}" in S lines is replaced by the `host` option.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LineClient } from './net.js';

export interface DialogOptions {
  readonly host?: string;
  readonly address?: string;
  readonly localAddress?: string;
  /** compare server lines as UTF-8 (the client reads octets as latin1) */
  readonly utf8?: boolean;
}

export function parseDialog(text: string): { kind: 'C' | 'S' | 'S~'; text: string; line: number }[] {
  const steps: { kind: 'C' | 'S' | 'S~'; text: string; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.replace(/\r$/, '');
    if (l.trim() === '' || l.startsWith('#')) return;
    const m = /^(C:|S:|S~) ?(.*)$/.exec(l);
    if (!m) throw new Error(`dialog line ${i + 1}: expected "C:", "S:" or "S~": ${l}`);
    steps.push({ kind: m[1].replace(':', '') as 'C' | 'S' | 'S~', text: m[2], line: i + 1 });
  });
  return steps;
}

/** Runs the transcript; throws an assertion error naming the transcript line that failed. */
export async function runDialog(port: number, text: string, opts: DialogOptions = {}): Promise<void> {
  const client = await LineClient.connect(port, opts.address ?? '127.0.0.1', opts.localAddress);
  try {
    for (const step of parseDialog(text)) {
      if (step.kind === 'C') {
        client.write(step.text + '\r\n');
        continue;
      }
      const line = await client.readLine();
      const got = opts.utf8 && line !== undefined ? Buffer.from(line, 'latin1').toString('utf8') : line;
      const want = step.text.replaceAll('{host}', opts.host ?? '');
      if (step.kind === 'S') assert.equal(got, want, `transcript line ${step.line}`);
      else assert.match(got ?? '<closed>', new RegExp(`^(?:${want})$`), `transcript line ${step.line}`);
    }
  } finally {
    client.close();
  }
}

export async function runDialogFile(port: number, file: string, opts: DialogOptions = {}): Promise<void> {
  return runDialog(port, readFileSync(file, 'utf8'), opts);
}
