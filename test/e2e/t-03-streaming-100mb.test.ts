/**
 * t-03: bodies are streamed, never held whole. A 100 MB message goes through a `correio serve`
 * process (SMTP → intake → spool → Maildir) while its resident memory is sampled from /proc;
 * RSS must grow by less than 60 MB over its level before the transfer (a body held whole would
 * add at least its 100 MB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { startSiteProcess } from '../helpers/site.js';

const MB = 1024 * 1024;

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

test('a 100 MB message passes with RSS growing less than 60 MB', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const site = await startSiteProcess({ domains: ['localhost'], users: ['big@localhost'], smtp: { max_message_size: '200MB' } });
  try {
    const pid = site.child!.pid!;
    // warm up: one small message so that every code path is loaded before the baseline
    await send(site.port, site.host, 64 * 1024);
    await site.waitForMessages('big@localhost', 1);
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssOf(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(pid));
    }, 20);
    try {
      const reply = await send(site.port, site.host, 100 * MB);
      assert.match(reply, /^250 /);
      const files = await site.waitForMessages('big@localhost', 2, 120000);
      assert.equal(files.length, 2);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    t.diagnostic(`RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB`);
    // 60 MB: well below the 100 MB (and more, as chunks are joined) a buffered body would add.
    // The streaming itself lets V8's heap grow with garbage chunks until a collection; on the code
    // a server now loads (JMAP, webmail, search index) that reached 45 MB in CI (32 and 40 tripped).
    assert.ok(growth < 60 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB (baseline ${(baseline / MB).toFixed(1)} MB)`);
    // and the message arrived whole: 100 MB of body lines plus the headers
    const paths = await site.mailbox('big@localhost');
    const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
    assert.ok(Math.max(...sizes) > 100 * MB * (71 / 72), `largest message is ${Math.max(...sizes)} octets`);
  } finally {
    await site.destroy();
  }
});

/** Sends one message of about `size` octets over raw SMTP, generating it as it goes. */
function send(port: number, host: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let buf = '';
    let stage = 0;
    const line = 'x'.repeat(70) + '\r\n';
    const block = Buffer.from(line.repeat(1024));
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += block.length;
        if (!sock.write(block)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.write('.\r\n');
    };
    sock.setEncoding('latin1');
    sock.on('error', reject);
    sock.on('data', (d: string) => {
      buf += d;
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const l = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^\d{3}-/.test(l)) continue;
        stage++;
        if (stage === 1) sock.write('EHLO big.test\r\n');
        else if (stage === 2) sock.write(`MAIL FROM:<s@test.example> SIZE=${size + 100}\r\nRCPT TO:<big@localhost>\r\nDATA\r\n`);
        else if (stage === 5) {
          if (!l.startsWith('354')) {
            reject(new Error(l));
            return;
          }
          sock.write('Subject: big\r\n\r\n');
          pump();
        } else if (stage === 6) {
          sock.end('QUIT\r\n');
          resolve(l);
        }
      }
    });
  });
}
