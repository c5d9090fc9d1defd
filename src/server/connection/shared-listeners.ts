/**
 * @module shared-listeners
 * A listening socket that one process binds and other processes accept on (`[smtp] processes`,
 * issue 19): bindShared() binds a TCP address or a UNIX socket *without* polling it here; the
 * handle is passed once to each acceptor process over the IPC channel (child.send(order,
 * handle): the descriptor travels by SCM_RIGHTS), and acceptOn() there listens and accepts on
 * it. The kernel hands each new connection to one of the processes waiting in accept, so no
 * connection passes through the binding process.
 * Standards: none (listen(2), accept(2) on a socket shared by several processes).
 * Security: the bind happens in the process that may bind low ports (before privileges are
 *   dropped); a UNIX socket's file gets `socketMode` right after bind, as bindServer does.
 *   Connections made before any process listens are refused (the socket is only bound), and
 *   once one has listened they wait in the kernel's backlog while none accepts (an acceptor
 *   restarting): none is dropped by the hand-over itself.
 * Limitations: Node has no public call for a socket bound but not polled by this process;
 *   bindShared uses the one its cluster module's shared-handle mode uses
 *   (net._createServerHandle), checked to exist. Which process gets a connection is the
 *   kernel's choice, not a round robin. On the accepting side a UNIX socket's received handle
 *   stays open beside the server Node makes from its descriptor (it is never closed on its
 *   own: closing it would close the listener's descriptor).
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { bindAddress, type BindAddress } from './listeners.js';

/** A bound socket's handle as Node passes it between processes (TCP or Pipe wrap). */
export interface ListenHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: { address?: string; port?: number }): number;
}

type CreateServerHandle = (address: string, port: number, addressType: number) => ListenHandle | number;

function createServerHandle(): CreateServerHandle {
  const fn = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  if (typeof fn !== 'function') throw new Error(`this Node.js (${process.version}) has no net._createServerHandle: [smtp] processes needs Node 20`);
  return fn;
}

/**
 * Binds `address` (TCP host and port, or a UNIX socket's path, then chmod to `socketMode`)
 * without listening; rejects with the OS error (code, address) when the bind fails.
 */
export async function bindShared(address: BindAddress, socketMode = 0o660): Promise<ListenHandle> {
  const make = createServerHandle();
  const path = address.path;
  const bind = async (): Promise<ListenHandle> => {
    const h = path !== undefined ? make(path, -1, -1) : make(address.host, address.port, net.isIP(address.host) === 6 ? 6 : 4);
    // libuv keeps a TCP bind's EADDRINUSE for listen(), which happens in another process: the
    // handle's getsockname gives it back now (a port in use fails the start here, as in one process)
    const delayed = typeof h !== 'number' && path === undefined && h.getsockname ? h.getsockname({}) : 0;
    if (typeof h !== 'number' && delayed >= 0) return h;
    if (typeof h !== 'number') h.close();
    const code = getSystemErrorName(typeof h === 'number' ? h : delayed);
    throw Object.assign(new Error(`listen ${code}: ${path ?? `${address.host}:${address.port}`}`), { code, syscall: 'listen', address: path ?? address.host, port: address.port });
  };
  return bindAddress(address, socketMode, bind, (h) => h.close());
}

/** The host and port a bound TCP handle has (port 0 resolved); undefined for a UNIX socket. */
export function handleAddress(h: ListenHandle): { host: string; port: number } | undefined {
  const out: { address?: string; port?: number } = {};
  if (!h.getsockname || h.getsockname(out) !== 0 || out.port === undefined) return undefined;
  return { host: out.address ?? '', port: out.port };
}

/**
 * Listens and accepts on a handle another process bound (bindShared) and sent here: each
 * accepted socket goes to `server`'s 'connection' listeners. Resolves once it listens; rejects
 * with the OS error, naming the handle's host and port (Node names neither for a handle). A
 * TCP listen can fail where the bind did not: another program bound the same port meanwhile
 * (both with SO_REUSEADDR, which Linux allows while neither listens) and listened first:
 * EADDRINUSE, as a bind would have said.
 */
export function acceptOn(server: net.Server, handle: ListenHandle): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // asked before: a handle that fails to listen is closed
    const bound = handleAddress(handle);
    const failed = (err: Error & { address?: string | null; port?: number }): void => {
      if (bound && (err.address == null || err.port === undefined || err.port < 0)) Object.assign(err, { address: bound.host, port: bound.port });
      reject(err);
    };
    server.once('error', failed);
    // a TCP handle becomes the server's own; a UNIX socket's is listened on through its descriptor
    server.listen(handle, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
