/**
 * @module dovecot-append-instructions
 * `node dist/bench/dovecot-append-instructions.js [FEW] [MANY]`: the user-space instructions
 * Dovecot's `imap` executes per APPEND into a new folder (issue 14), to set beside correio's
 * (`imap-append-probe` with PROBE_CALLGRIND). Two sessions under valgrind's callgrind, each on a
 * fresh Maildir with 10 messages in INBOX: SELECT INBOX, CREATE Probe, then FEW (50) or MANY
 * (250) one-at-a-time LITERAL+ APPENDs of the probe's messages; the difference of the two totals
 * over MANY − FEW is the figure, so start-up, SELECT and CREATE cancel out.
 * Standards: RFC 9051 §6.3.12 (APPEND), RFC 7888 (LITERAL+).
 * Security: a temp dir; the session runs as `nobody` from the start when started by root
 *   (Dovecot drops privileges otherwise, and callgrind could then not write its file).
 * Limitations: instructions only (no kernel time, no flushes); ~50x slower than native.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareDovecotHome, dovecotImap } from '../test/helpers/dovecot.js';
import { fill, imapRunner, message } from './jmap-bench.js';

const few = Number(process.argv[2] ?? 50);
const many = Number(process.argv[3] ?? 250);

/** Total instructions of one session of `appends` APPENDs. */
async function session(appends: number): Promise<number> {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'dovecot-append-instructions-'));
  await fsp.chmod(work, 0o777);
  try {
    await fill(path.join(work, 'home', 'Maildir'), 10);
    const d = await prepareDovecotHome(path.join(work, 'home'));
    const out = path.join(work, 'callgrind.out');
    // doveconf re-executes imap: its children traced; as root, started as the mail user already
    const asUser = process.getuid?.() === 0 ? `setpriv --reuid=${d.user} --regid=nogroup --clear-groups ` : '';
    const child = spawn('/bin/sh', ['-c', `cat | ${asUser}valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=${out}.%p ${dovecotImap} -c "$CONF" | cat`], { env: { USER: d.user, HOME: d.home, CONF: d.conf, PATH: '/usr/bin:/bin' }, stdio: ['pipe', 'pipe', 'ignore'] });
    const { run, fail } = imapRunner('dovecot', child.stdin, child.stdout);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    void exited.then(() => fail(new Error('dovecot imap exited')));
    await run('SELECT INBOX');
    await run('CREATE Probe');
    for (let i = 0; i < appends; i++) {
      const text = message(10 + i).replace(/\n/g, '\r\n');
      await run(`APPEND Probe (\\Seen) {${Buffer.byteLength(text)}+}\r\n${text}`);
    }
    await run('LOGOUT');
    child.stdin.end();
    await exited;
    let total = 0;
    for (const f of await fsp.readdir(work)) {
      if (f.startsWith('callgrind.out.')) total += Number(/^totals: (\d+)/m.exec(readFileSync(path.join(work, f), 'latin1'))?.[1] ?? 0);
    }
    return total;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

const [a, b] = await Promise.all([session(few), session(many)]);
console.log(`Dovecot imap: ${few} APPENDs ${(a / 1e6).toFixed(1)} M, ${many} APPENDs ${(b / 1e6).toFixed(1)} M instructions; ${((b - a) / (many - few) / 1e6).toFixed(3)} M per APPEND`);
