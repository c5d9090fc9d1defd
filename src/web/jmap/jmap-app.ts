/**
 * @module jmap-app
 * JMAP over HTTP (RFC 8620 §2, §3, §6): the session resource (`GET /jmap/session`, found
 * through `/.well-known/jmap`), the API endpoint (`POST /jmap/api`), blob download
 * (`GET /jmap/download/{accountId}/{blobId}/{name}?type=`), mounted with the `jmap` scope.
 * Standards: RFC 8620 §2 (session), §2.2 (/.well-known/jmap redirect, RFC 8615), §3.1
 *   (application/json, UTF-8), §3.6.1 (request-level errors), §6.2 (download); RFC 8621 §1.3
 *   (mail and submission capabilities).
 * Security: every request is authenticated (the mount); accounts are the user's own only;
 *   downloads are sent as attachments with nosniff and a sandboxing CSP, so a message part is
 *   never run as a page of this origin.
 * Limitations: no blob upload, Email/import, EmailSubmission or push yet.
 */
import { Hono } from 'hono';
import type { WebEnv } from '../http-auth.js';
import { problem } from '../problem.js';
import { AccountSession, accountIdOf, maxObjectsInGet, maxObjectsInSet } from './jmap-account.js';
import { capabilityUris, parseRequest, runCalls, type JmapMethod } from './jmap-protocol.js';
import { emailMethods } from './email-methods.js';
import { mailboxMethods } from './mailbox-methods.js';
import type { MailView } from './mail-view.js';
import { MessageCache } from './email-read.js';

export interface JmapOptions {
  readonly mailView: MailView;
  /** the largest request body and upload ([http] max_body_size) */
  readonly maxSize: number;
  /** the display name of an account, for Identity/get */
  readonly displayName: (address: string) => Promise<string | undefined>;
  readonly onError: (err: unknown, method: string) => void;
}

const maxCallsInRequest = 64;
const known = new Set<string>(Object.values(capabilityUris));

/** The session object (RFC 8620 §2) for one user; `base` is the URL prefix the client used. */
export function sessionObject(user: string, base: string, maxSize: number): Record<string, unknown> {
  const accountId = accountIdOf(user);
  const session = {
    capabilities: {
      [capabilityUris.core]: {
        maxSizeUpload: maxSize,
        maxConcurrentUpload: 4,
        maxSizeRequest: maxSize,
        maxConcurrentRequests: 8,
        maxCallsInRequest,
        maxObjectsInGet,
        maxObjectsInSet,
        collationAlgorithms: ['i;unicode-casemap'],
      },
      [capabilityUris.mail]: {},
      [capabilityUris.submission]: {},
    },
    accounts: {
      [accountId]: {
        name: user,
        isPersonal: true,
        isReadOnly: false,
        accountCapabilities: {
          [capabilityUris.mail]: {
            maxMailboxesPerEmail: 1,
            maxMailboxDepth: null,
            maxSizeMailboxName: 200,
            maxSizeAttachmentsPerEmail: maxSize,
            emailQuerySortOptions: ['receivedAt', 'size', 'from', 'to', 'subject', 'sentAt', 'hasKeyword'],
            mayCreateTopLevelMailbox: true,
          },
          [capabilityUris.submission]: { maxDelayedSend: 0, submissionExtensions: {} },
        },
      },
    },
    primaryAccounts: { [capabilityUris.mail]: accountId, [capabilityUris.submission]: accountId },
    username: user,
    apiUrl: `${base}/jmap/api`,
    downloadUrl: `${base}/jmap/download/{accountId}/{blobId}/{name}?type={type}`,
    uploadUrl: `${base}/jmap/upload/{accountId}`,
    eventSourceUrl: `${base}/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}`,
  };
  // the state changes when anything above does (RFC 8620 §2)
  return { ...session, state: Buffer.from(JSON.stringify(session)).toString('base64url').slice(-16) };
}

function baseUrl(c: { req: { url: string } }): string {
  const u = new URL(c.req.url);
  return `${u.protocol}//${u.host}`;
}

/** The methods of one request for one account. */
export function methodTable(account: AccountSession, opts: JmapOptions): Map<string, JmapMethod> {
  return new Map<string, JmapMethod>([
    ['Core/echo', { capability: capabilityUris.core, run: (args) => Promise.resolve(args) }],
    ...mailboxMethods(account),
    ...emailMethods(account),
    [
      'Identity/get',
      {
        capability: capabilityUris.submission,
        run: async (args) => {
          account.check(args);
          const name = (await opts.displayName(account.user)) ?? '';
          const identity = { id: 'i0', name, email: account.user, replyTo: null, bcc: null, textSignature: '', htmlSignature: '', mayDelete: false };
          const ids = args.ids;
          const wanted = Array.isArray(ids) ? (ids as string[]) : ['i0'];
          return { accountId: account.accountId, state: 'i0', list: wanted.includes('i0') ? [identity] : [], notFound: wanted.filter((i) => i !== 'i0') };
        },
      },
    ],
  ]);
}

export function jmapApp(opts: JmapOptions): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/session', (c) => c.json(sessionObject(c.get('principal').address, baseUrl(c), opts.maxSize), 200, { 'Cache-Control': 'no-store' }));
  app.post('/api', async (c) => {
    if (!/^application\/json\b/i.test(c.req.header('Content-Type') ?? '')) {
      return problem(400, 'the request must be application/json', { type: 'urn:ietf:params:jmap:error:notJSON' });
    }
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return problem(400, 'the request body is not valid JSON', { type: 'urn:ietf:params:jmap:error:notJSON' });
    }
    const req = parseRequest(body, known, maxCallsInRequest);
    if ('status' in req) return problem(400, req.detail, { type: req.type, ...(req.limit && { limit: req.limit }) });
    const user = c.get('principal').address;
    const account = new AccountSession(user, opts.mailView);
    const session = sessionObject(user, baseUrl(c), opts.maxSize);
    const res = await runCalls(req, methodTable(account, opts), String(session.state), opts.onError);
    return c.json(res);
  });
  app.get('/download/:accountId/:blobId/:name', async (c) => {
    const account = new AccountSession(c.get('principal').address, opts.mailView);
    if (c.req.param('accountId') !== account.accountId) return problem(404, 'no such account');
    const blobId = c.req.param('blobId');
    const m = /^b([A-Za-z0-9_-]{22})(?:_([0-9-]+))?$/.exec(blobId);
    const view = await account.view();
    const e = m ? view.emails.find((x) => x.blobId === `b${m[1]}`) : undefined;
    if (!m || !e) return problem(404, `no blob ${blobId}`);
    const cache = new MessageCache(account);
    const data = m[2] === undefined ? await cache.raw(e) : (await cache.load(e)).parsed.octets(m[2].replace(/-/g, '.'));
    if (!data) return problem(404, `no blob ${blobId}`);
    const type = c.req.query('type') ?? (m[2] === undefined ? 'message/rfc822' : 'application/octet-stream');
    const safeType = /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : 'application/octet-stream';
    return c.body(new Uint8Array(data), 200, {
      'Content-Type': safeType,
      'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(c.req.param('name'))}`,
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'private, immutable, max-age=31536000',
    });
  });
  return app;
}

/** `/.well-known/jmap`: a redirect to the session resource (RFC 8620 §2.2). */
export function wellKnownJmapApp(): Hono<WebEnv> {
  return new Hono<WebEnv>().get('/', (c) => c.redirect('/jmap/session', 307));
}
