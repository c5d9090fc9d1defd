/**
 * @module checks-scenario
 * The bench's `checks` scenario (issue 15): the `maildir` scenario's load (one local mailbox)
 * with the inbound checks on — SPF, DKIM and DMARC (`[mail_auth] verify_inbound`) answered by
 * a DNS server in this process (src/dns/zone-server.ts: the sender domain's SPF record and a
 * `p=none` DMARC record), the load's 127.0.0.1 not trusted so every message is judged, and,
 * with BENCH_RSPAMD_URL set, the rspamd scan (`[policy] rspamd_url`). Postfix's row does the
 * same checks with Debian's packages (postfix-checks.ts: policyd-spf at RCPT, OpenDKIM and
 * OpenDMARC as milters), its lookups answered by the same zone on port 53 of a loopback address.
 * Run it beside `maildir` (BENCH_SCENARIOS=maildir,checks): the report gives the checks-on ÷
 * checks-off ratio of each.
 * Standards: none. Security: loopback only. Limitations: the messages are unsigned (DKIM none;
 *   smtp-source writes them); the rspamd scan is correio's only.
 */
import path from 'node:path';
import { startZoneServer } from '../src/dns/zone-server.js';
import type { BenchContext, Sample } from './bench-context.js';
import { waitForFiles } from './peers.js';
import { startPostfix } from './postfix-peer.js';

export async function runChecks(ctx: BenchContext, work: string, profile: boolean, o: { from: string; timeoutMs: number; postfix: boolean }): Promise<Sample> {
  const domain = o.from.slice(o.from.lastIndexOf('@') + 1);
  const zone = {
    [domain]: { txt: ['v=spf1 ip4:127.0.0.1 -all'] },
    [`_dmarc.${domain}`]: { txt: ['v=DMARC1; p=none'] },
  };
  // Postfix's daemons find their server in /etc/resolv.conf: port 53, on an address of its own
  const dns = o.postfix ? await startZoneServer(zone, { host: `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`, port: 53 }) : await startZoneServer(zone);
  const rspamd = process.env.BENCH_RSPAMD_URL;
  try {
    if (o.postfix) {
      const p = await startPostfix(work, 'maildir', 9, { dnsHost: dns.server.replace(/:53$/, '') });
      try {
        // warm, as the maildir row it is compared with
        await ctx.warmUp(p.port, 'benchmd@localhost', () => waitForFiles(path.join(p.maildir, 'new'), ctx.warmup, o.timeoutMs));
        return await ctx.measure(async () => {
          const t0 = performance.now();
          const acceptMs = await ctx.load(p.port, 'benchmd@localhost');
          const t1 = await waitForFiles(path.join(p.maildir, 'new'), ctx.warmup + ctx.messages, o.timeoutMs);
          return { acceptMs, e2eMs: t1 - t0 };
        }, () => p.masterPid(), () => p.helperPids());
      } finally {
        await p.stop();
      }
    }
    return await ctx.withCorreio(
      work,
      {
        users: ['benchmd@localhost'],
        smtpLines: ['trusted_networks = []'],
        deliveryLines: [`dns_servers = ["${dns.server}"]`],
        tables: ['[mail_auth]', 'verify_inbound = true', ...(rspamd ? ['[policy]', `rspamd_url = "${rspamd}"`] : [])],
      },
      profile,
      async (c) => {
        // new/ and cur/: the search index's warmer may have moved some already
        const box = path.join(c.dataDir, 'mail', 'localhost', 'benchmd');
        const files = [path.join(box, 'new'), path.join(box, 'cur')];
        await ctx.warmUp(c.port, 'benchmd@localhost', () => waitForFiles(files, ctx.warmup, o.timeoutMs));
        return ctx.measure(async () => {
          const t0 = performance.now();
          const acceptMs = await ctx.load(c.port, 'benchmd@localhost');
          const t1 = await waitForFiles(files, ctx.warmup + ctx.messages, o.timeoutMs);
          return { acceptMs, e2eMs: t1 - t0 };
        }, () => c.child.pid);
      },
    );
  } finally {
    await dns.close();
  }
}
