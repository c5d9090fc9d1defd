/**
 * @module listener-checks
 * Every listen address of a configuration with the key that names it, and `correio check`'s
 * finding for each one that cannot be bound now: a port another program holds (naming it when
 * this user can see it), a privileged port, an address not on this machine, a host name that
 * does not resolve, a UNIX socket's missing or unwritable folder.
 * Standards: none.
 * Security: each TCP address is bound for an instant and closed (nothing accepted); UNIX sockets
 *   are never bound by the check (that would create the file): their folder and any live socket
 *   at the path are examined instead.
 * Limitations: the ports of this data directory's own running server are reported as its, not
 *   as problems; a port that another program takes between the check and the start is not seen.
 */
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { formatListenAddress, type Config, type ListenAddress } from '../config/index.js';
import { findPortHolder, listenOn } from '../util/index.js';
import type { Check, CheckFinding } from './check-types.js';
import { findServerPid } from './instance-lock.js';

export interface ListenKey {
  readonly key: string;
  readonly address: ListenAddress;
  /** an embedded default served only when free (imap, http, metrics without their key) */
  readonly bestEffort?: boolean;
}

/** Every listen address in the config with the key that names it. */
export function listenKeys(config: Config): ListenKey[] {
  const groups = [
    { key: 'smtp.listen', addresses: config.smtp.listen },
    { key: 'smtp.submission', addresses: config.smtp.submission },
    { key: 'smtp.submissions', addresses: config.smtp.submissions },
    { key: 'lmtp.listen', addresses: config.lmtp.listen },
    { key: 'pop3.listen', addresses: config.pop3.listen },
    { key: 'pop3.listen_tls', addresses: config.pop3.listenTls },
    { key: 'imap.listen', addresses: config.imap.listen, bestEffort: config.imap.isDefault },
    { key: 'imap.listen_tls', addresses: config.imap.listenTls },
    { key: 'http.listen', addresses: config.http.listen, bestEffort: config.http.isDefault },
    { key: 'http.listen_tls', addresses: config.http.listenTls },
    { key: 'metrics.listen', addresses: config.metrics.listen, bestEffort: config.metrics.isDefault },
  ];
  return groups.flatMap((g) => g.addresses.map((address) => ({ key: g.key, address, ...(g.bestEffort ? { bestEffort: true } : {}) })));
}

/** Binds host:port for an instant; undefined when it could be bound, else the bind error. */
async function tryBind(address: ListenAddress): Promise<unknown> {
  const server = net.createServer();
  try {
    await listenOn(server, { host: address.host, port: address.port });
  } catch (err) {
    return err;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return undefined;
}

/** Whether something accepts connections on the UNIX socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function socketFinding(key: string, path: string, ownServer: boolean): Promise<string | undefined> {
  const where = `${key}: unix:${path}`;
  let folder;
  try {
    folder = statSync(dirname(path));
  } catch {
    return `${where}: the folder ${dirname(path)} does not exist: create it (mkdir -p ${dirname(path)}) or set ${key} to another path`;
  }
  if (!folder.isDirectory()) return `${where}: ${dirname(path)} is not a folder: set ${key} to another path`;
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch {
    return `${where}: this user may not create a socket in ${dirname(path)}: make the folder writable by the user correio runs as, or set ${key} to another path`;
  }
  let file;
  try {
    file = statSync(path);
  } catch {
    return undefined;
  }
  if (!file.isSocket()) return `${where} exists and is not a socket: move that file away or set ${key} to another path`;
  if (!ownServer && (await socketAnswers(path))) return `${where} is in use: a running program accepts on it: stop it or set ${key} to another path`;
  return undefined;
}

/**
 * Each listen address must be bindable by the server: `describe` turns a bind error into the
 * line `correio serve` would print (cli/os-errors); the holder of a port in use is named.
 */
export const checkListeners: Check = async ({ config, describeError }) => {
  const serverPid = await findServerPid(config.dataDir);
  const out: CheckFinding[] = [];
  for (const { key, address, bestEffort } of listenKeys(config)) {
    if (address.path !== undefined) {
      const problem = await socketFinding(key, address.path, serverPid !== undefined);
      if (problem) out.push({ level: 'error', message: problem });
      continue;
    }
    if (address.port === 0) continue;
    const err = await tryBind(address);
    if (err === undefined) continue;
    const code = (err as { code?: string }).code;
    // an embedded default that is taken only means that service stays off (serve says so)
    if (bestEffort && code === 'EADDRINUSE') continue;
    const where = formatListenAddress(address);
    let message = describeError?.(err) ?? `${key}: ${where}: ${(err as Error).message}`;
    if (code === 'EADDRINUSE') {
      const holder = findPortHolder(address.port);
      if (holder !== undefined && holder.pid === serverPid) {
        continue; // this data directory's own server holds it
      }
      if (serverPid !== undefined && holder === undefined) {
        message = `${key}: ${where} is in use, probably by this data directory's running server (PID ${serverPid}); if not, ss -ltnp shows which program holds it`;
        out.push({ level: 'warning', message });
        continue;
      }
      message = holder
        ? `${key}: ${where} is in use by PID ${holder.pid} (${holder.command || 'command unknown'}): stop that program or set ${key} to another port`
        : `${key}: ${where} is in use by a program this user cannot see (ss -ltnp as root shows which): stop it or set ${key} to another port`;
    }
    out.push({ level: 'error', message });
  }
  return out;
};
