/**
 * @module admin-client
 * The console's way to the admin API (/api/admin/v1): JSON requests carrying the admin's HTTP
 * Basic credentials, kept in this page's memory only (never in storage: a reload asks again).
 * Standards: RFC 7617 (Basic, UTF-8 credentials), RFC 9110.
 * Security: credentials go in the Authorization header of same-origin requests only; the
 *   server checks the admin scope on every request.
 * Limitations: none.
 */

export const API = '/api/admin/v1';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

let credentials: string | undefined;

/** RFC 7617 §2.1: base64 of "user:password" in UTF-8. */
export function setCredentials(address: string, password: string): void {
  const bytes = new TextEncoder().encode(`${address}:${password}`);
  credentials = btoa(String.fromCharCode(...bytes));
}

export function clearCredentials(): void {
  credentials = undefined;
}

/** The error sentence of an answer: {"error"} (admin API) or {"detail"} (RFC 9457 problem). */
function errorText(status: number, body: unknown): string {
  if (body !== null && typeof body === 'object') {
    const b = body as { error?: unknown; detail?: unknown; title?: unknown };
    for (const x of [b.error, b.detail, b.title]) if (typeof x === 'string') return x;
  }
  return `HTTP ${status}`;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (credentials !== undefined) headers.authorization = `Basic ${credentials}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, errorText(res.status, parsed));
  return parsed as T;
}

/** An address or id as one path segment. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
