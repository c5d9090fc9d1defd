/**
 * @module address
 * RFC 5321 paths and RFC 5322 addresses and address lists: parse, normalise, IDNA, "+tag";
 * and CIDR lists.
 * Standards: RFC 5321 §4.1.2, RFC 5322 §3.4.1, RFC 6531, RFC 5233, RFC 4632.
 * Security: see each module. Limitations: see each module.
 */
export {
  parseReversePath,
  parseForwardPath,
  parseMailbox,
  normalizeDomain,
  normalizeAddressLiteral,
  quoteLocalPart,
  isDotString,
  isPostmaster,
  AddressSyntaxError,
  type PathOptions,
} from './smtp-path.js';
export { parseAddrSpec } from './addr-spec.js';
export { parseAddressList, type AddressListItem, type AddressListOptions } from './address-list.js';
export { splitDetail, type LocalDetail } from './split-detail.js';
export { CidrList, unmapIpv4, ipv6Groups } from './cidr.js';
