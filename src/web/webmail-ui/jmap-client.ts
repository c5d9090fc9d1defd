/**
 * @module jmap-client
 * The webmail's only way to the server: JMAP (RFC 8620/8621) over fetch — the session
 * resource, method calls, blob upload and download, push (EventSource) — plus the browser
 * session (login, resume after a reload, logout) and the webmail's message-frame endpoint.
 * Standards: RFC 8620 §2 (session), §3 (requests, result references), §6 (blobs), §7.3
 *   (EventSource), W3C Server-Sent Events, RFC 6265 (cookies).
 * Security: the browser session (docs/web.md): the password is sent once, to POST /api/session,
 *   whose answer sets an HttpOnly, SameSite=Strict cookie that script cannot read; every state
 *   change carries the session's CSRF token (X-CSRF-Token), kept in this object only. Every
 *   request goes to this origin.
 * Limitations: one account (the primary mail account).
 */

export type Invocation = [string, Record<string, unknown>, string];

export class JmapError extends Error {
  constructor(
    message: string,
    readonly type: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

export interface JmapSession {
  readonly username: string;
  readonly accountId: string;
}

const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];

/** A problem-details or JMAP request-level error body, as one sentence. */
async function errorOf(res: Response): Promise<JmapError> {
  let detail = `${res.status} ${res.statusText}`;
  let type = 'http';
  try {
    const body = (await res.json()) as { detail?: string; title?: string; type?: string };
    detail = body.detail ?? body.title ?? detail;
    type = body.type ?? type;
  } catch {
    // not JSON: the status line says enough
  }
  return new JmapError(detail, type, res.status);
}

/** Thrown when the browser session has ended (expired, logged out, the account gone): log in again. */
export class SessionEnded extends JmapError {}

export class JmapClient {
  readonly #csrfToken: string;
  #session: JmapSession | undefined;
  /** called once when a request finds the session ended */
  onSessionEnded: () => void = () => undefined;

  private constructor(csrfToken: string) {
    this.#csrfToken = csrfToken;
  }

  /** Logs in (POST /api/session: the cookie is set by the answer) and opens the JMAP session. */
  static async login(address: string, password: string): Promise<JmapClient> {
    const res = await fetch('/api/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ address, password }),
      credentials: 'same-origin',
    });
    if (!res.ok) throw await errorOf(res);
    const client = new JmapClient(((await res.json()) as { csrfToken: string }).csrfToken);
    await client.open();
    return client;
  }

  /** The session of the cookie this browser holds (a reloaded page), or undefined: log in then. */
  static async resume(): Promise<JmapClient | undefined> {
    const res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) return undefined;
    if (!res.ok) throw await errorOf(res);
    const client = new JmapClient(((await res.json()) as { csrfToken: string }).csrfToken);
    await client.open();
    return client;
  }

  get session(): JmapSession {
    if (!this.#session) throw new Error('not logged in');
    return this.#session;
  }

  get accountId(): string {
    return this.session.accountId;
  }

  /** A request with the session cookie; a state change carries the CSRF token. */
  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if ((init.method ?? 'GET') !== 'GET') headers.set('X-CSRF-Token', this.#csrfToken);
    const res = await fetch(path, { ...init, headers, credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) {
      this.onSessionEnded();
      throw new SessionEnded('your session has ended: log in again', 'sessionEnded', 401);
    }
    return res;
  }

  async open(): Promise<JmapSession> {
    const res = await this.#fetch('/jmap/session');
    if (!res.ok) throw await errorOf(res);
    const s = (await res.json()) as { username: string; primaryAccounts: Record<string, string> };
    this.#session = { username: s.username, accountId: s.primaryAccounts['urn:ietf:params:jmap:mail'] };
    return this.#session;
  }

  /** Logs out: the server deletes the session and clears the cookie. */
  async logout(): Promise<void> {
    await this.#fetch('/api/session', { method: 'DELETE' }).catch(() => undefined);
  }

  /** One request of method calls; answers by call id. A method error rejects naming the method. */
  async call(calls: Invocation[]): Promise<Map<string, Record<string, unknown>>> {
    const res = await this.#fetch('/jmap/api', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ using, methodCalls: calls }),
    });
    if (!res.ok) throw await errorOf(res);
    const body = (await res.json()) as { methodResponses: Invocation[] };
    const out = new Map<string, Record<string, unknown>>();
    for (const [name, args, id] of body.methodResponses) {
      if (name === 'error') throw new JmapError(`${calls.find((c) => c[2] === id)?.[0] ?? id}: ${String(args.description ?? args.type)}`, String(args.type));
      out.set(id, args);
    }
    return out;
  }

  /** RFC 8620 §6.1: a blob for an attachment. */
  async upload(file: Blob): Promise<{ blobId: string; type: string; size: number }> {
    const res = await this.#fetch(`/jmap/upload/${encodeURIComponent(this.accountId)}`, {
      method: 'POST',
      headers: { 'Content-Type': file.type || 'application/octet-stream' },
      body: file,
    });
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as { blobId: string; type: string; size: number };
  }

  /** RFC 8620 §6.2: where a blob downloads from (the cookie is the credential). */
  downloadUrl(blobId: string, name: string, type: string): string {
    return `/jmap/download/${encodeURIComponent(this.accountId)}/${encodeURIComponent(blobId)}/${encodeURIComponent(name)}?type=${encodeURIComponent(type)}`;
  }

  /** The message as a sanitised HTML document for the reading frame (src/web/webmail/message-frame.ts). */
  async frame(emailId: string, remoteImages: boolean): Promise<{ html: string; blockedImages: number }> {
    const res = await this.#fetch(`/webmail/api/frame/${encodeURIComponent(emailId)}${remoteImages ? '?images=remote' : ''}`);
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as { html: string; blockedImages: number };
  }

  /**
   * Push (RFC 8620 §7.3): calls `onChange` after each state event until `signal` aborts (the
   * browser's EventSource reconnects by itself after a dropped stream).
   */
  listen(onChange: (changed: Record<string, string>) => void, signal: AbortSignal): void {
    const events = new EventSource('/jmap/eventsource?types=*&closeafter=no&ping=60');
    events.addEventListener('state', (ev) => {
      const change = JSON.parse((ev as MessageEvent<string>).data) as { changed?: Record<string, Record<string, string>> };
      const mine = change.changed?.[this.accountId];
      if (mine) onChange(mine);
    });
    signal.addEventListener('abort', () => events.close(), { once: true });
  }
}
