/**
 * @module mx-sites
 * The seed's multi-host setups for end-to-end tests: a test DNS zone in which each mail domain
 * has one MX host on its own loopback address, and correio sites answering for those domains,
 * all on one SMTP port (the port they deliver to, `mx_port`).
 * Standards: RFC 5321 §5.1 (MX lookup of the domain, then the address of the MX host).
 * Security: test only; loopback addresses only.
 * Limitations: one MX (preference 10, named mx.<domain>) per domain; sites run in this process.
 */
import net from 'node:net';
import { mxZoneOf, startDnsServer, type DnsTestServer, type DnsZone } from './dns-server.js';
import { freePort } from './net.js';
import { startSite, type Site, type SiteOptions } from './site.js';

/**
 * Port 25 on every given address when this process may bind it (root) and nothing holds it,
 * else undefined (the caller then uses a free high port with mx_port: DESIGN.md §5).
 */
export async function port25IfFree(ips: readonly string[]): Promise<number | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  for (const ip of ips) {
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(25, ip, () => s.close(() => resolve(true)));
    });
    if (!free) return undefined;
  }
  return 25;
}

/** A zone where each domain has the MX mx.<domain> (preference 10) with the given IPv4 address. */
export function mxZone(domains: Record<string, string>): DnsZone {
  return mxZoneOf(Object.entries(domains).map(([domain, ip]) => ({ domain, ip })));
}

/** A site for one domain on its own loopback address; it is named mx.<domain>. */
export interface MxSiteSpec extends Omit<SiteOptions, 'host' | 'port' | 'hostname' | 'domains' | 'delivery'> {
  domain: string;
  ip: string;
}

export interface MxSites {
  readonly dns: DnsTestServer;
  /** the SMTP port every site listens on and delivers to */
  readonly port: number;
  /** in the order of the specs */
  readonly sites: Site[];
  destroy(): Promise<void>;
}

/**
 * Starts the DNS server (the sites' MX records) and the sites, in order, each with
 * `delivery` plus `dns_servers` and `mx_port` pointing at this setup. What was started is
 * stopped again if a later part fails.
 */
export async function startMxSites(
  specs: readonly MxSiteSpec[],
  delivery: NonNullable<SiteOptions['delivery']>,
  opts: { port?: number } = {},
): Promise<MxSites> {
  const dns = await startDnsServer(mxZone(Object.fromEntries(specs.map((s) => [s.domain, s.ip]))));
  const sites: Site[] = [];
  const destroy = async (): Promise<void> => {
    for (const s of sites) await s.destroy();
    await dns.close();
  };
  try {
    const port = opts.port ?? (await freePort(specs[0]?.ip));
    for (const { domain, ip, ...rest } of specs) {
      sites.push(
        await startSite({ ...rest, host: ip, port, hostname: `mx.${domain}`, domains: [domain], delivery: { dns_servers: [dns.server], mx_port: port, ...delivery } }),
      );
    }
    return { dns, port, sites, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}
