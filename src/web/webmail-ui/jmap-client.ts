/**
 * @module jmap-client
 * The webmail's only way to the server: JMAP (RFC 8620/8621) over fetch — the session
 * resource, method calls, blob upload and download, and push (the EventSource stream, read
 * through fetch so that it carries the same credentials as every other request) — plus the
 * webmail's message-frame endpoint.
 * Standards: RFC 8620 §2 (session), §3 (requests, result references), §6 (blobs), §7.3
 *   (EventSource), W3C Server-Sent Events (the stream's format), RFC 7617 (Basic).
 * Security: the password lives in this object only (never in storage, a cookie or the URL); a
 *   reload asks again. Every request goes to this origin.
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

export class JmapClient {
  readonly #authorization: string;
  #session: JmapSession | undefined;

  constructor(address: string, password: string) {
    const bytes = new TextEncoder().encode(`${address}:${password}`);
    this.#authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
  }

  get session(): JmapSession {
    if (!this.#session) throw new Error('not logged in');
    return this.#session;
  }

  get accountId(): string {
    return this.session.accountId;
  }

  #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Authorization', this.#authorization);
    // Fetch §4.5 (HTTP-network-or-cache fetch): a 401 with a Basic challenge makes the browser
    // prompt for a password when the request may carry credentials; with "omit" it does not,
    // and the login page shows the server's sentence instead
    return fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  }

  /** Logs in: fetches the session resource; a wrong password rejects with the server's sentence. */
  async open(): Promise<JmapSession> {
    const res = await this.#fetch('/jmap/session');
    if (!res.ok) throw await errorOf(res);
    const s = (await res.json()) as { username: string; primaryAccounts: Record<string, string> };
    this.#session = { username: s.username, accountId: s.primaryAccounts['urn:ietf:params:jmap:mail'] };
    return this.#session;
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

  /** RFC 8620 §6.2: a blob's octets (saved by the caller). */
  async download(blobId: string, name: string, type: string): Promise<Blob> {
    const res = await this.#fetch(`/jmap/download/${encodeURIComponent(this.accountId)}/${encodeURIComponent(blobId)}/${encodeURIComponent(name)}?type=${encodeURIComponent(type)}`);
    if (!res.ok) throw await errorOf(res);
    return res.blob();
  }

  /** The message as a sanitised HTML document for the reading frame (src/web/webmail/message-frame.ts). */
  async frame(emailId: string, remoteImages: boolean): Promise<{ html: string; blockedImages: number }> {
    const res = await this.#fetch(`/webmail/api/frame/${encodeURIComponent(emailId)}${remoteImages ? '?images=remote' : ''}`);
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as { html: string; blockedImages: number };
  }

  /**
   * Push (RFC 8620 §7.3): calls `onChange` after each state event until `signal` aborts;
   * reconnects after a dropped stream (5 s later).
   */
  async listen(onChange: (changed: Record<string, string>) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const res = await this.#fetch('/jmap/eventsource?types=*&closeafter=no&ping=60', { signal, headers: { Accept: 'text/event-stream' } });
        if (!res.ok || !res.body) throw await errorOf(res);
        await readEvents(res.body, (event, data) => {
          if (event !== 'state') return;
          const change = JSON.parse(data) as { changed?: Record<string, Record<string, string>> };
          const mine = change.changed?.[this.accountId];
          if (mine) onChange(mine);
        });
      } catch {
        // dropped, refused or aborted: try again unless stopping
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

/** W3C Server-Sent Events: `event:` and `data:` lines, a blank line ends an event. */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let event = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffered.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + (buffered.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) onEvent(event, data.join('\n'));
        event = 'message';
        data = [];
      } else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
}
