/**
 * @module lab-world
 * The seed's world for `correio lab`: its two sites (dsc.ufpb.br, where helvecio writes from,
 * and dc.uece.br, where suzana and pascal read and jacques is unknown), the aliases of §2.1
 * (estacao123 at S1 ↔ estacaoBD at S2: the loop), a forwarding alias across the sites, a list
 * with members at both, and the role chefe-de-departamento; each site's correio.toml and the DNS
 * zone that gives their MX records.
 * Standards: RFC 5321 §5.1 (MX, then the exchange's address).
 * Security: every address is a loopback one; the users' password is printed by `lab up` on
 *   purpose (a teaching world, never a production one).
 * Limitations: the world is fixed; change a site afterwards with the usual commands and its
 *   --config.
 */
import { mxZone, type DnsZone } from '../../dns/dns-zone.js';

export interface LabList {
  readonly address: string;
  readonly owner: string;
  readonly members: readonly string[];
}

export interface LabSite {
  readonly domain: string;
  /** its loopback address (any user may bind 127.0.0.0/8 on Linux) */
  readonly ip: string;
  readonly users: readonly string[];
  readonly aliases: Readonly<Record<string, readonly string[]>>;
  readonly lists: readonly LabList[];
  readonly roles: Readonly<Record<string, string>>;
}

/** Every lab user's password (printed by `lab up`). */
export const labPassword = 'correio';

/** The seed's sites: figure 3's and figure 5's people, §2.1's loop, list and role. */
export const seedWorld: readonly LabSite[] = [
  {
    domain: 'dsc.ufpb.br',
    ip: '127.0.0.2',
    users: ['helvecio@dsc.ufpb.br', 'jacques@dsc.ufpb.br'],
    // §2.1: S1 maps estacao123 to estacaoBD at S2
    aliases: { 'estacao123@dsc.ufpb.br': ['estacaoBD@dc.uece.br'] },
    // §2.1: a list whose members need not be local
    lists: [{ address: 'redes@dsc.ufpb.br', owner: 'helvecio@dsc.ufpb.br', members: ['helvecio@dsc.ufpb.br', 'jacques@dsc.ufpb.br', 'suzana@dc.uece.br', 'pascal@dc.uece.br'] }],
    roles: {},
  },
  {
    domain: 'dc.uece.br',
    ip: '127.0.0.3',
    users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'],
    aliases: {
      // §2.1: S2 maps estacaoBD back to estacao123 at S1
      'estacaoBD@dc.uece.br': ['estacao123@dsc.ufpb.br'],
      // forwarding: an address at S2 whose mail goes on to a user at S1
      'helvecio@dc.uece.br': ['helvecio@dsc.ufpb.br'],
    },
    lists: [],
    // §2: "chefe-de-departamento" names whoever heads the department now
    roles: { 'chefe-de-departamento@dc.uece.br': 'pascal@dc.uece.br' },
  },
];

/** The ports of one lab: SMTP (also every site's mx_port), POP3 and IMAP on each site's address. */
export interface LabPorts {
  readonly smtp: number;
  readonly pop3: number;
  readonly imap: number;
}

export function labPorts(base: number): LabPorts {
  return { smtp: base, pop3: base + 1, imap: base + 2 };
}

/** One site's correio.toml: its own address, the lab's DNS server, quick retries. */
export function siteConfig(site: LabSite, ports: LabPorts, dnsServer: string): string {
  return [
    `# correio lab: ${site.domain} (the seed's world; see docs/gateways.md)`,
    `hostname = "mx.${site.domain}"`,
    'data_dir = "var"',
    `local_domains = ["${site.domain}"]`,
    '',
    '[smtp]',
    `listen = ["${site.ip}:${ports.smtp}"]`,
    // the other lab sites are loopback clients too: the lab's machines trust each other
    'trusted_networks = ["127.0.0.0/8"]',
    '',
    '[delivery]',
    `dns_servers = ["${dnsServer}"]`,
    `mx_port = ${ports.smtp}`,
    // a site that is down is tried again within seconds, as a teaching world wants
    'retry_min = "5s"',
    'retry_max = "10s"',
    'smtp_timeout = "10s"',
    '',
    '[pop3]',
    `listen = ["${site.ip}:${ports.pop3}"]`,
    '',
    '[imap]',
    `listen = ["${site.ip}:${ports.imap}"]`,
    'plaintext_auth = "always"',
    '',
    '[metrics]',
    'listen = []',
    '',
    '[log]',
    'level = "info"',
    '',
  ].join('\n');
}

/** The zone of the lab's DNS server: each domain's MX mx.<domain>, and that name's address. */
export function labZone(sites: readonly LabSite[]): DnsZone {
  return mxZone(sites);
}
