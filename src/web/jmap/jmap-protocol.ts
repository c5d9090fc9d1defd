/**
 * @module jmap-protocol
 * The JMAP API request (RFC 8620 §3): validation of the Request object, the method calls run
 * in order, result references between them, method-level errors, and the Response object.
 * The methods themselves are given as a table (name → capability and handler).
 * Standards: RFC 8620 §3.3 (Request), §3.4 (Response), §3.6.1 (request-level errors as problem
 *   details), §3.6.2 (method-level errors), §3.7 (result references, JSON Pointer with "*"),
 *   RFC 6901 (JSON Pointer).
 * Security: the number of calls per request is limited (`maxCallsInRequest`); a method that
 *   throws something unexpected answers `serverFail` for that call only, and the others run.
 * Limitations: none.
 */

export const capabilityUris = {
  core: 'urn:ietf:params:jmap:core',
  mail: 'urn:ietf:params:jmap:mail',
  submission: 'urn:ietf:params:jmap:submission',
} as const;

export type Args = Record<string, unknown>;
export type Invocation = [string, Args, string];

/** A method-level error (RFC 8620 §3.6.2): answered as ["error", {type, …}, callId]. */
export class MethodError extends Error {
  constructor(
    readonly type: string,
    description?: string,
    readonly extra: Args = {},
  ) {
    super(description ?? type);
  }
}

export interface CallContext {
  /** creation id → server id, across the whole request (RFC 8620 §3.3, §5.3) */
  readonly createdIds: Map<string, string>;
  /** the capabilities the client named in `using` */
  readonly using: ReadonlySet<string>;
  /** runs another method as part of this call (an implicit call, e.g. onSuccessUpdateEmail); its answer is added after this one */
  readonly also: (name: string, args: Args) => Promise<void>;
}

export interface JmapMethod {
  readonly capability: string;
  readonly run: (args: Args, ctx: CallContext) => Promise<Args>;
}

export type MethodTable = ReadonlyMap<string, JmapMethod>;

/** A request-level error (RFC 8620 §3.6.1): the HTTP status and problem details. */
export interface RequestProblem {
  readonly status: 400;
  readonly type: string;
  readonly detail: string;
  readonly limit?: string;
}

export interface JmapResponse {
  methodResponses: Invocation[];
  createdIds?: Record<string, string>;
  sessionState: string;
}

const err = (type: string, detail: string, limit?: string): RequestProblem => ({ status: 400, type: `urn:ietf:params:jmap:error:${type}`, detail, ...(limit && { limit }) });

/** Checks the shape of a Request object (RFC 8620 §3.3). */
export function parseRequest(body: unknown, known: ReadonlySet<string>, maxCalls: number): { using: string[]; calls: Invocation[]; createdIds?: Record<string, string> } | RequestProblem {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return err('notRequest', 'the request is not a JSON object');
  const r = body as Record<string, unknown>;
  if (!Array.isArray(r.using) || !r.using.every((u) => typeof u === 'string')) return err('notRequest', '"using" must be an array of capability URIs');
  if (!Array.isArray(r.methodCalls)) return err('notRequest', '"methodCalls" must be an array');
  const unknown = r.using.find((u) => !known.has(u));
  if (unknown !== undefined) return err('unknownCapability', `unknown capability ${unknown}`);
  if (r.methodCalls.length > maxCalls) return err('limit', `at most ${maxCalls} method calls per request`, 'maxCallsInRequest');
  for (const c of r.methodCalls) {
    if (!Array.isArray(c) || c.length !== 3 || typeof c[0] !== 'string' || typeof c[1] !== 'object' || c[1] === null || Array.isArray(c[1]) || typeof c[2] !== 'string') {
      return err('notRequest', 'each method call is [name, arguments object, call id]');
    }
  }
  let createdIds: Record<string, string> | undefined;
  if (r.createdIds !== undefined) {
    if (typeof r.createdIds !== 'object' || r.createdIds === null || Array.isArray(r.createdIds)) return err('notRequest', '"createdIds" must be an object');
    createdIds = r.createdIds as Record<string, string>;
  }
  return { using: r.using, calls: r.methodCalls as Invocation[], ...(createdIds && { createdIds }) };
}

/** Runs the calls in order (RFC 8620 §3.4); each answer may be referenced by the later ones. */
export async function runCalls(
  req: { using: string[]; calls: Invocation[]; createdIds?: Record<string, string> },
  methods: MethodTable,
  sessionState: string,
  onFail: (err: unknown, method: string) => void,
): Promise<JmapResponse> {
  const responses: Invocation[] = [];
  const createdIds = new Map(Object.entries(req.createdIds ?? {}));
  const using = new Set(req.using);
  for (const [name, rawArgs, callId] of req.calls) {
    const invoke = async (method: string, args: Args): Promise<void> => {
      const m = methods.get(method);
      if (!m || !using.has(m.capability)) {
        responses.push(['error', { type: 'unknownMethod', description: `${method} is not a method here (or its capability is not in "using")` }, callId]);
        return;
      }
      const later: [string, Args][] = [];
      try {
        const result = await m.run(args, { createdIds, using, also: (n, a) => Promise.resolve(void later.push([n, a])) });
        responses.push([method, result, callId]);
      } catch (e) {
        if (e instanceof MethodError) responses.push(['error', { type: e.type, ...(e.message !== e.type && { description: e.message }), ...e.extra }, callId]);
        else {
          onFail(e, method);
          responses.push(['error', { type: 'serverFail', description: 'the server failed to run this method; the error is in its log' }, callId]);
        }
        return;
      }
      for (const [n, a] of later) await invoke(n, a);
    };
    let args: Args;
    try {
      args = resolveReferences(rawArgs, responses);
    } catch (e) {
      if (!(e instanceof MethodError)) throw e;
      responses.push(['error', { type: e.type, description: e.message }, callId]);
      continue;
    }
    await invoke(name, args);
  }
  return { methodResponses: responses, ...(req.createdIds !== undefined && { createdIds: Object.fromEntries(createdIds) }), sessionState };
}

/** Replaces each "#name" argument by the value its ResultReference points at (RFC 8620 §3.7). */
export function resolveReferences(args: Args, responses: readonly Invocation[]): Args {
  const out: Args = {};
  for (const [k, v] of Object.entries(args)) {
    if (!k.startsWith('#')) {
      out[k] = v;
      continue;
    }
    const key = k.slice(1);
    if (key in args) throw new MethodError('invalidArguments', `both "${key}" and "${k}" are given`);
    if (typeof v !== 'object' || v === null) throw new MethodError('invalidResultReference', `${k} is not a ResultReference`);
    const ref = v as { resultOf?: unknown; name?: unknown; path?: unknown };
    if (typeof ref.resultOf !== 'string' || typeof ref.name !== 'string' || typeof ref.path !== 'string') {
      throw new MethodError('invalidResultReference', `${k} needs resultOf, name and path`);
    }
    const source = responses.find((r) => r[2] === ref.resultOf);
    if (!source || source[0] !== ref.name) throw new MethodError('invalidResultReference', `no ${ref.name} response with call id ${ref.resultOf}`);
    out[key] = evaluatePointer(source[1], ref.path);
  }
  return out;
}

/** JSON Pointer with JMAP's "*": at an array, the rest of the path is applied to each item, and arrays flattened. */
export function evaluatePointer(value: unknown, path: string): unknown {
  if (path === '') return value;
  if (!path.startsWith('/')) throw new MethodError('invalidResultReference', `path ${path} does not start with "/"`);
  const tokens = path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const walk = (v: unknown, i: number): unknown => {
    if (i === tokens.length) return v;
    const t = tokens[i];
    if (Array.isArray(v)) {
      if (t === '*') return v.flatMap((item) => {
        const r = walk(item, i + 1);
        return Array.isArray(r) ? r : [r];
      });
      if (!/^(0|[1-9]\d*)$/.test(t) || Number(t) >= v.length) throw new MethodError('invalidResultReference', `no item ${t} in ${path}`);
      return walk(v[Number(t)], i + 1);
    }
    if (typeof v === 'object' && v !== null && Object.hasOwn(v, t)) return walk((v as Record<string, unknown>)[t], i + 1);
    throw new MethodError('invalidResultReference', `nothing at ${path}`);
  };
  return walk(value, 0);
}
