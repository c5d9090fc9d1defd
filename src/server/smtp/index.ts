/**
 * @module server-smtp
 * The SMTP server: MX (25), submission (587) and submissions (465) listeners over one Intake.
 * Standards: RFC 5321, RFC 6409, RFC 8314, RFC 3207, RFC 4954, RFC 2920, RFC 3030, RFC 3461.
 * Security: see smtp-session.ts and smtp-server.ts. Limitations: see smtp-session.ts.
 *
 * Public API:
 *   new SmtpServer(options: SmtpServerOptions)
 *   server.listen(addresses: { host: string; port: number; mode: 'mx' | 'submission' | 'submissions' }[]): Promise<void>
 *   server.addresses(): { host: string; port: number; mode: ListenMode }[]
 *   server.close(): Promise<void>
 *   with acceptElsewhere: server.sharedListeners() here, other.acceptOn(shared) in each acceptor process
 *   (each listener runs its mode's policy: policy/smtpPolicyFromConfig, passed as `policies`)
 */
export { SmtpServer, type SmtpServerOptions, type SharedListener, type ListenAddress, type ListenMode } from './smtp-server.js';
