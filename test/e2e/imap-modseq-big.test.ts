/**
 * A client's MODSEQ above 2^53 (RFC 7162 §7 allows up to 2^63-1) is read as 2^53-1 (imap-reader
 * modseq: a double holds no more exactly); every answer stays the exact one, as the folder's
 * MODSEQs are far below: CHANGEDSINCE (with VANISHED), UNCHANGEDSINCE, SEARCH MODSEQ and SELECT
 * QRESYNC with 2^53+1 and 2^63-1 answer byte for byte as with HIGHESTMODSEQ+1, the exact value
 * nearest below them that is also above every message's MODSEQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { LineClient } from '../helpers/net.js';

const user = 'suzana@dc.uece.br';

void test('MODSEQs above 2^53 from a client answer as HIGHESTMODSEQ+1 does: CHANGEDSINCE, VANISHED, UNCHANGEDSINCE, SEARCH MODSEQ, SELECT QRESYNC', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-modseq-big-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const server = new ImapServer({ hostname: 'mx', folders: new MaildirFolders(store), authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 });
  try {
    for (let i = 0; i < 4; i++) await store.deliver(user, Readable.from([Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`)]), { uniqueKey: `m${i}` });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const c = await LineClient.connect(bound.port);
    await c.readLine();
    let n = 0;
    /** The untagged lines and the tagged line's text after the tag. */
    const run = async (cmd: string): Promise<string> => {
      const tag = `t${++n}`;
      c.write(`${tag} ${cmd}\r\n`);
      const lines: string[] = [];
      for (;;) {
        const l = await c.readLine(30_000);
        if (l === undefined) throw new Error(`no answer to ${cmd}`);
        if (l.startsWith(`${tag} `)) return [...lines, l.slice(tag.length + 1).replace(/completed.*$/, '')].join('\n');
        lines.push(l);
      }
    };
    await run(`LOGIN ${user} secret`);
    await run('ENABLE QRESYNC');
    const selected = await run('SELECT INBOX');
    const uidValidity = /UIDVALIDITY (\d+)/.exec(selected)![1];
    // some history: flags changed, a message expunged
    await run('STORE 2 +FLAGS (\\Flagged)');
    await run('STORE 3 +FLAGS (\\Deleted)');
    await run('EXPUNGE');
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(await run('STATUS INBOX (HIGHESTMODSEQ)'))![1]);
    assert.ok(highest > 1 && highest < 100);
    const commands = (v: string): string[] => [
      `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${v})`,
      `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${v} VANISHED)`,
      `FETCH 1:* (FLAGS) (CHANGEDSINCE ${v})`,
      `SEARCH MODSEQ ${v}`,
      `UID SEARCH OR MODSEQ ${v} SEEN`,
      `EXAMINE INBOX (QRESYNC (${uidValidity} ${v}))`,
      `EXAMINE INBOX (QRESYNC (${uidValidity} ${v} 1:10))`,
      'SELECT INBOX',
      // each STORE is refused for no message: the flag goes on, then off again, with one MODSEQ each
      `STORE 1:* (UNCHANGEDSINCE ${v}) +FLAGS.SILENT ($Big)`,
      `UID STORE 1:* (UNCHANGEDSINCE ${v}) -FLAGS ($Big)`,
    ];
    // the MODSEQs the STOREs give are new each round: the answers are compared with them numbered from the round's start
    const round = async (v: string): Promise<string[]> => {
      const base = Number(/HIGHESTMODSEQ (\d+)/.exec(await run('STATUS INBOX (HIGHESTMODSEQ)'))![1]);
      const out: string[] = [];
      for (const cmd of commands(v)) out.push((await run(cmd)).replace(/(MODSEQ \(?|HIGHESTMODSEQ )(\d+)/g, (_m, k: string, d: string) => `${k}+${Number(d) - base}`));
      return out;
    };
    const exact = await round(String(highest + 1));
    assert.equal(exact[3], '* SEARCH\nOK SEARCH ', 'SEARCH MODSEQ above every message finds none');
    assert.doesNotMatch(exact.slice(0, 3).join('\n'), /^\* .*(FETCH|VANISHED)/m, 'CHANGEDSINCE above every message: nothing changed');
    assert.equal(exact[9].match(/^\* \d+ FETCH \(UID \d+ FLAGS \([^)]*\) MODSEQ \(\+2\)\)$/gm)?.length, 3, 'the STORE changed every message');
    assert.doesNotMatch(exact.slice(8).join('\n'), /MODIFIED/);
    for (const v of ['9007199254740993', '9223372036854775807']) {
      const big = await round(v);
      for (const [i, cmd] of commands(v).entries()) assert.equal(big[i], exact[i], `${cmd}: as with ${highest + 1}`);
    }
    // and one above 2^63-1 is refused, not clamped
    assert.match(await run('UID FETCH 1:* (FLAGS) (CHANGEDSINCE 9223372036854775808)'), /^BAD /);
    c.socket.destroy();
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
});
