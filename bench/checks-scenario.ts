/**
 * @module checks-scenario
 * The bench's `checks` scenario (issue 15): the `maildir` scenario's load (one local mailbox)
 * with the inbound checks on — SPF, DKIM and DMARC (`[mail_auth] verify_inbound`) answered by
 * a DNS server in this process (src/dns/zone-server.ts: the sender domain's SPF record and a
 * `p=none` DMARC record), the load's 127.0.0.1 not trusted so every message is judged, and,
 * with BENCH_RSPAMD_URL set, the rspamd scan (`[policy] rspamd_url`). Run it beside `maildir`
 * (BENCH_SCENARIOS=maildir,checks): the report gives the checks-on ÷ checks-off ratio.
 * Standards: none. Security: loopback only. Limitations: the messages are unsigned (DKIM none);
 *   no Postfix row (its checks need opendkim and policyd-spf, not set up here).
 */
import path from 'node:path';
import { startZoneServer } from '../src/dns/zone-server.js';
import type { BenchContext, Sample } from './bench-context.js';
import { waitForFiles } from './peers.js';

export async function runChecks(ctx: BenchContext, work: string, profile: boolean, o: { from: string; timeoutMs: number }): Promise<Sample> {
  const domain = o.from.slice(o.from.lastIndexOf('@') + 1);
  const dns = await startZoneServer({
    [domain]: { txt: ['v=spf1 ip4:127.0.0.1 -all'] },
    [`_dmarc.${domain}`]: { txt: ['v=DMARC1; p=none'] },
  });
  const rspamd = process.env.BENCH_RSPAMD_URL;
  try {
    return await ctx.withCorreio(
      work,
      {
        users: ['benchmd@localhost'],
        smtpLines: ['trusted_networks = []'],
        deliveryLines: [`dns_servers = ["${dns.server}"]`],
        tables: ['[mail_auth]', 'verify_inbound = true', ...(rspamd ? ['[policy]', `rspamd_url = "${rspamd}"`] : [])],
      },
      profile,
      (c) =>
        ctx.measure(async () => {
          const t0 = performance.now();
          const acceptMs = await ctx.load(c.port, 'benchmd@localhost');
          // new/ and cur/: the search index's warmer may have moved some already
          const box = path.join(c.dataDir, 'mail', 'localhost', 'benchmd');
          const t1 = await waitForFiles([path.join(box, 'new'), path.join(box, 'cur')], ctx.messages, o.timeoutMs);
          return { acceptMs, e2eMs: t1 - t0 };
        }, () => c.child.pid),
    );
  } finally {
    await dns.close();
  }
}
