/**
 * @module jmap-app
 * JMAP over HTTP (RFC 8620 §2, §3, §6): the session resource (`GET /jmap/session`, found
 * through `/.well-known/jmap`), the API endpoint (`POST /jmap/api`), blob download
 * (`GET /jmap/download/{accountId}/{blobId}/{name}?type=`), blob upload (`POST
 * /jmap/upload/{accountId}`) and push (`GET /jmap/eventsource`), mounted with the `jmap` scope.
 * Standards: RFC 8620 §2 (session), §2.2 (/.well-known/jmap redirect, RFC 8615), §3.1
 *   (application/json, UTF-8), §3.6.1 (request-level errors), §6.2 (download); RFC 8621 §1.3
 *   (mail and submission capabilities).
 * Security: every request is authenticated (the mount); accounts are the user's own only;
 *   downloads are sent as attachments with nosniff and a sandboxing CSP, so a message part is
 *   never run as a page of this origin.
 * Limitations: see each method module.
 */
import { Hono } from 'hono';
import type { WebEnv } from '../http-auth.js';
import { connectionOf, problem } from '../problem.js';
import { AccountSession, accountIdOf, maxObjectsInGet, maxObjectsInSet, type JmapServices } from './jmap-account.js';
import { capabilityUris, parseRequest, runCalls, type JmapMethod } from './jmap-protocol.js';
import { emailMethods } from './email-methods.js';
import { mailboxMethods } from './mailbox-methods.js';
import { readBlob } from './email-create.js';
import { MessageCache } from './email-read.js';
import { eventSource } from './event-source.js';
import { submissionMethods } from './submission-methods.js';

export interface JmapOptions {
  readonly services: JmapServices;
  /** aborted when the server stops (push streams end) */
  readonly closing: AbortSignal;
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
    ...submissionMethods(account, () => opts.displayName(account.user)),
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
    const account = new AccountSession(user, opts.services, connectionOf(c));
    const session = sessionObject(user, baseUrl(c), opts.maxSize);
    const res = await runCalls(req, methodTable(account, opts), String(session.state), opts.onError);
    return c.json(res);
  });
  app.get('/download/:accountId/:blobId/:name', async (c) => {
    const account = new AccountSession(c.get('principal').address, opts.services);
    if (c.req.param('accountId') !== account.accountId) return problem(404, 'no such account');
    const blobId = c.req.param('blobId');
    const blob = await readBlob(account, blobId, new MessageCache(account));
    if (!blob) return problem(404, `no blob ${blobId}`);
    const type = c.req.query('type') ?? blob.type;
    const safeType = /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : 'application/octet-stream';
    return c.body(new Uint8Array(blob.data), 200, {
      'Content-Type': safeType,
      'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(c.req.param('name'))}`,
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'private, max-age=86400',
    });
  });
  // RFC 8620 §6.1: the body is the blob, its Content-Type the blob's type
  app.post('/upload/:accountId', async (c) => {
    const account = new AccountSession(c.get('principal').address, opts.services);
    if (c.req.param('accountId') !== account.accountId) return problem(404, 'no such account');
    const data = Buffer.from(await c.req.arrayBuffer());
    const type = (c.req.header('Content-Type') ?? 'application/octet-stream').split(';')[0].trim().toLowerCase();
    const r = await account.blobs.put(account.accountId, data, type);
    return c.json({ accountId: account.accountId, ...r }, 201);
  });
  app.get('/eventsource', (c) => eventSource(c, new AccountSession(c.get('principal').address, opts.services), opts.closing));
  return app;
}

/** `/.well-known/jmap`: a redirect to the session resource (RFC 8620 §2.2). */
export function wellKnownJmapApp(): Hono<WebEnv> {
  return new Hono<WebEnv>().get('/', (c) => c.redirect('/jmap/session', 307));
}
