/**
 * Byte-exact RETR of outside messages (../shared/corpora/messages, DESIGN.md §6): each message
 * is delivered with CRLF line ends (as intake hands them to the store), then fetched over POP3
 * and un-stuffed; the octets must equal what was delivered and what LIST announced. Run over
 * the test store and, when src/mailbox is present, over the real MaildirStore.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import type { MailboxStore } from '../../src/core/index.js';
import { corporaDir, corporaSkip } from '../helpers/paths.js';
import { startHarness, USER, PASSWORD } from './pop3-harness.js';

const skip = corporaSkip('messages');

function messageFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      // messages only: not the expected-result .xml/.out/.json files nor decoded parts
      else if (/\.(eml|msg|txt)$/.test(n) && !n.includes('_decoded')) out.push(p);
    }
  };
  walk(join(corporaDir, 'messages'));
  return out.sort();
}

/** RFC 5322 §2.1 line ends: every CR, LF or CRLF becomes CRLF; a final CRLF is added if missing. */
function asDelivered(b: Buffer): Buffer {
  let s = b.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  if (s.length > 0 && !s.endsWith('\r\n')) s += '\r\n';
  return Buffer.from(s, 'latin1');
}

/** A byte-level POP3 reader: whole responses, multi-line ones un-stuffed (RFC 1939 §3). */
class RawPop3 {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }
  static connect(port: number): Promise<RawPop3> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawPop3(s)));
      s.once('error', reject);
    });
  }
  private async waitMore(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((r) => {
      const t = setTimeout(r, 10_000);
      this.waiter = () => {
        clearTimeout(t);
        this.waiter = undefined;
        r();
      };
    });
  }
  async status(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const line = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return line;
      }
      await this.waitMore();
    }
  }
  async body(): Promise<Buffer> {
    let from = 0;
    for (;;) {
      const end = this.buf.length >= 3 && this.buf.subarray(0, 3).toString() === '.\r\n' ? 0 : this.buf.indexOf('\r\n.\r\n', from);
      if (end >= 0) {
        const raw = end === 0 ? '' : this.buf.subarray(0, end + 2).toString('latin1');
        this.buf = this.buf.subarray(end === 0 ? 3 : end + 5);
        return Buffer.from(raw.replace(/(^|\r\n)\./g, '$1'), 'latin1');
      }
      from = Math.max(0, this.buf.length - 4);
      await this.waitMore();
    }
  }
  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }
  close(): void {
    this.socket.destroy();
  }
}

async function maildirFactory(): Promise<((dir: string) => MailboxStore) | undefined> {
  // Not a static import: the test still runs on a tree without src/mailbox.
  const path = '../../src/mailbox/index.js';
  try {
    const mod = (await import(path)) as { MaildirStore?: new (root: string) => MailboxStore };
    const Store = mod.MaildirStore;
    return Store ? (dir: string) => new Store(join(dir, 'maildir')) : undefined;
  } catch {
    return undefined;
  }
}

async function retrAll(mailboxes?: (dir: string) => MailboxStore): Promise<number> {
  let store: MailboxStore | undefined;
  const h = await startHarness({}, mailboxes ? (dir) => (store = mailboxes(dir)) : undefined);
  store ??= h.store;
  try {
    const files = messageFiles();
    assert.ok(files.length > 100, `found ${files.length} corpus messages`);
    const delivered = new Map<string, { file: string; octets: Buffer }>();
    for (const [i, file] of files.entries()) {
      const octets = asDelivered(readFileSync(file));
      const { key } = await store.deliver(USER, Readable.from([octets]), { uniqueKey: `corpus-${i}` });
      delivered.set(key, { file: relative(corporaDir, file), octets });
    }
    const listed = await store.list(USER);
    assert.equal(listed.length, files.length);
    // Same order as POP3 numbers them: by arrival, then key.
    const order = [...listed].sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

    const c = await RawPop3.connect(h.port);
    try {
      assert.match(await c.status(), /^\+OK/);
      c.send(`USER ${USER}`);
      c.send(`PASS ${PASSWORD}`);
      assert.match(await c.status(), /^\+OK/);
      assert.match(await c.status(), new RegExp(`^\\+OK maildrop locked and ready, ${files.length} messages`));
      // Pipeline every RETR at once (RFC 2449 §6.6), then read the answers in order.
      for (let n = 1; n <= files.length; n++) c.send(`RETR ${n}`);
      for (let n = 1; n <= files.length; n++) {
        const meta = order[n - 1];
        const status = await c.status();
        assert.equal(status, `+OK ${meta.size} octets`, `RETR ${n}`);
        const got = await c.body();
        assert.equal(got.length, meta.size, `RETR ${n}: octets sent equal the size announced`);
        const want = delivered.get(meta.key);
        assert.ok(want, `RETR ${n}: key ${meta.key} was delivered`);
        assert.ok(got.equals(want.octets), `RETR ${n} (${want.file}) is byte-identical to what was delivered`);
      }
      c.send('QUIT');
      assert.match(await c.status(), /^\+OK/);
    } finally {
      c.close();
    }
    return files.length;
  } finally {
    await h.cleanup();
  }
}

void test('corpora: byte-exact RETR through the test store', { skip }, async () => {
  const n = await retrAll();
  assert.ok(n > 100);
});

const maildir = skip ? undefined : await maildirFactory();

void test('corpora: byte-exact RETR through the real MaildirStore', { skip: skip || (maildir ? false : 'src/mailbox MaildirStore not present') }, async () => {
  const n = await retrAll(maildir);
  assert.ok(n > 100);
});

