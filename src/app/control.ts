/**
 * @module control
 * A local control socket (`<data_dir>/control.sock`) through which commands reach a running
 * server: `sendmail` wakes the queue runner after dropping mail into the spool, and queue
 * commands (flush, hold, release, delete, bounce) act through the runner so that its view of the
 * spool stays the truth. SocketQueueControl is the CLI's online QueueControl over it; when no
 * server answers, commands use the offline one (queue/queue-control.ts StoreQueueControl) on
 * the spool directly. Both faces run the same transitions (queue/envelope-transitions.ts).
 * Standards: none (one JSON request and one JSON response per connection).
 * Security: a Unix socket with mode 0600 inside data_dir: only the owner can use it.
 * Limitations: one node; with PostgreSQL several nodes would each need their own.
 */
import net from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { QueueControl } from '../core/index.js';

/** Who gives a queue command, for the log: the CLI's operator, or the admin API's caller (and token). */
export interface Operator {
  readonly by: string;
  readonly via: 'cli' | 'api';
  readonly token?: string;
}

export type ControlRequest =
  | { op: 'wake' }
  | ({ op: 'flush'; id?: string } & Partial<Operator>)
  | ({ op: 'hold' | 'release' | 'delete' | 'bounce'; id: string } & Partial<Operator>)
  | { op: 'ping' }
  | { op: 'page'; after?: string; limit: number } // ids of a queue listing's page, from the runner's memory
  | { op: 'reload' }; // start-app answers it (reload.ts), not the runner

export interface ControlResponse {
  ok: boolean;
  /** envelopes affected */
  count?: number;
  error?: string;
  /** reload: changed keys that take effect at the next start */
  restartNeeded?: string[];
  /** page: the message ids, oldest first */
  ids?: string[];
}

export function controlSocketPath(config: Config): string {
  return join(config.dataDir, 'control.sock');
}

export function startControlServer(
  path: string,
  handle: (req: ControlRequest) => Promise<ControlResponse>,
): Promise<{ close(): Promise<void> }> {
  return startSocketServer(path, handle, 0o600);
}

/** One JSON request and one JSON response per connection on the UNIX socket `path` (made `mode`). */
export async function startSocketServer<Req, Res>(
  path: string,
  handle: (req: Req) => Promise<Res>,
  mode: number,
): Promise<{ close(): Promise<void> }> {
  await unlink(path).catch(() => undefined);
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 65536) {
        sock.destroy();
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: Req;
      try {
        req = JSON.parse(buf.slice(0, nl)) as Req;
      } catch {
        sock.end(JSON.stringify({ ok: false, error: 'bad request' }) + '\n');
        return;
      }
      handle(req).then(
        (res) => sock.end(JSON.stringify(res) + '\n'),
        (err: unknown) => sock.end(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }) + '\n'),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, mode).catch(() => undefined);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        void unlink(path).catch(() => undefined);
      }),
  };
}

/** Sends a request to a running server; undefined when none answers. */
export function sendControl(config: Config, req: ControlRequest, timeoutMs = 30000): Promise<ControlResponse | undefined> {
  return askSocket<ControlRequest, ControlResponse>(controlSocketPath(config), req, timeoutMs);
}

/** Sends one request on the UNIX socket `path`; undefined when nothing answers. */
export async function askSocket<Req, Res>(path: string, req: Req, timeoutMs = 30000): Promise<Res | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(undefined);
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => (buf += d));
    sock.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as Res);
      } catch {
        resolve(undefined);
      }
    });
  });
}

/**
 * The operator of a CLI command, for the log: the one behind sudo, else the login ($LOGNAME,
 * $USER), else the uid (root's CLI runs as run_as by then, so the process's own account would
 * name run_as). Recorded, not trusted: whoever may run the command may set these.
 */
export function operatorName(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.SUDO_USER || env.LOGNAME || env.USER || `uid ${process.getuid?.() ?? '?'}`;
}

/** Why SocketQueueControl could not act: no answer at all, or the server refused. */
export class ControlError extends Error {
  constructor(readonly reason: 'no-answer' | 'refused', message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

/** The online QueueControl: each action answered by the running server's queue runner. */
/**
 * QueueControl over control requests, answered by whatever `send` reaches: the socket (the
 * CLI's SocketQueueControl) or the server's own handler (the admin API, app/web-services.ts).
 */
export class RequestQueueControl implements QueueControl {
  constructor(
    private readonly send: (req: ControlRequest) => Promise<ControlResponse | undefined>,
    /** who gives the commands, for the log: the CLI's operator; the admin API's caller */
    private readonly who: () => Operator = () => ({ by: operatorName(), via: 'cli' }),
  ) {}

  async #call(req: ControlRequest): Promise<number> {
    // who asked, for the server's log: the operator behind sudo, else the login (root's CLI
    // runs as run_as by then, so the process's own account would name run_as)
    const who = this.who();
    const res = await this.send(req.op === 'flush' || req.op === 'hold' || req.op === 'release' || req.op === 'delete' || req.op === 'bounce' ? { ...req, ...who } : req);
    if (res === undefined) throw new ControlError('no-answer', 'the server did not answer');
    if (!res.ok) throw new ControlError('refused', res.error ?? 'unknown error');
    return res.count ?? 0;
  }

  /**
   * The first `limit` queued message ids after `after`, from the runner's memory (no listing of
   * the spool); undefined when no server answers or its queue is not loaded whole yet.
   */
  async page(after: string | undefined, limit: number): Promise<string[] | undefined> {
    const res = await this.send({ op: 'page', limit, ...(after !== undefined && { after }) });
    return res?.ok === true && Array.isArray(res.ids) ? res.ids : undefined;
  }

  /** Whether a server answers (it re-reads the spool: mail dropped in since its last poll is known to it). */
  async wake(): Promise<boolean> {
    return (await this.send({ op: 'wake' })) !== undefined;
  }

  flush(id?: string): Promise<number> {
    return this.#call({ op: 'flush', ...(id !== undefined && { id }) });
  }
  hold(id: string): Promise<number> {
    return this.#call({ op: 'hold', id });
  }
  release(id: string): Promise<number> {
    return this.#call({ op: 'release', id });
  }
  delete(id: string): Promise<number> {
    return this.#call({ op: 'delete', id });
  }
  bounce(id: string): Promise<number> {
    return this.#call({ op: 'bounce', id });
  }
}

/** The CLI's online QueueControl: the running server's runner, through the control socket. */
export class SocketQueueControl extends RequestQueueControl {
  constructor(config: Config, timeoutMs = 30000) {
    super((req) => sendControl(config, req, timeoutMs));
  }
}
