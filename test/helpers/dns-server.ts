/**
 * @module dns-server
 * The tests' DNS server: src/dns/zone-server.ts (the one `correio lab` runs) under the names
 * the tests use, on 127.0.0.1 at a random port.
 */
export { startZoneServer as startDnsServer, mxZone as mxZoneOf, type ZoneServer as DnsTestServer, type DnsZone, type DnsZoneEntry } from '../../src/dns/zone-server.js';
