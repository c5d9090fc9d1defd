/**
 * @module trust
 * Mail authentication (issue 15, first part): inbound SPF, DKIM and DMARC with one
 * Authentication-Results field (inbound.ts), and outbound DKIM signing with keys under the
 * data directory (dkim-signer.ts, dkim-keys.ts), SRS for forwarding (srs.ts), and the ARC set
 * and DKIM signature of mailing-list copies (list-sealer.ts), the DNS records a domain needs, and
 * the daily TLS reports (report-store.ts, tls-report.ts), the reports others send us
 * (received-reports.ts, received-store.ts). docs/trust.md says what is checked and
 * signed.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { authenticateInbound, startInbound, checkSpf, type InboundSettings, type InboundDeps, type RawLookup } from './inbound.js';
export { evaluateDmarc, organizationalDomain, aligned, parseDmarcRecord, type TxtLookup, type DmarcOutcome } from './dmarc.js';
export { formatAuthResults, claimsAuthservId } from './auth-results.js';
export { BodyHasher, signatureField, relaxedHeader, rawFields, type SigningKey } from './dkim-sign.js';
export { generateDkimKey, loadDkimKeys, keyRecordName, keyRecordValue, dkimKeyDir, isKeyName, checkedKeyNames, newDkimKeyPem, signingKeyOf, type KeyAlgorithm } from './dkim-keys.js';
export { DkimSigner } from './dkim-signer.js';
export { dnsRecords, domainRecords, zoneTxt, defaultSelector, type DnsRecord } from './dns-records.js';
export { Srs, type SrsSettings } from './srs.js';
export { ArcListSealer, type ListSealerSettings } from './list-sealer.js';
export { StreamedVerify } from './streamed-verify.js';
export { ReportStore, utcDay, type TlsResultRow } from './report-store.js';
export { buildTlsReport, tlsReportFile, tlsReportMessage, tlsRptDestinations, type TlsReport, type TlsReportMeta } from './tls-report.js';
export { postReport } from './report-post.js';
export { dmarcEvaluation, destinationAllowed, dmarcReportXml, dmarcReportMessage, type DmarcEvaluation, type DmarcReportRow, type PublishedPolicy } from './dmarc-report.js';
export { readReports, parseDmarcReport, parseDmarcFailure, parseTlsReport, type ReceivedReports, type ReceivedDmarcReport, type ReceivedDmarcFailure, type ReceivedTlsReport } from './received-reports.js';
export { ReceivedReportStore, type Stored } from './received-store.js';
export { dmarcFailureMessage, failureWanted, type DmarcFailure } from './dmarc-failure.js';
