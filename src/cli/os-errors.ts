/**
 * @module os-errors
 * Turns an operating-system condition met while starting or running a command (a port in use,
 * a privileged port, a listen host that is not here, a data directory that is a file, not
 * writable, read-only or full, a read-only database) into one line that names the config key
 * or path, the cause and the fix, with a sysexits(3) status: 77 EX_NOPERM for permissions,
 * 78 EX_CONFIG for a setting that cannot work, 69 EX_UNAVAILABLE for a port another program
 * holds, 75 EX_TEMPFAIL only for what passes by itself (a full disk, a DNS timeout).
 * Standards: sysexits(3); errno(3) names.
 * Security: names paths and addresses from the operator's own config only.
 * Limitations: errors are recognised by their errno (or SQLite) code, through `cause` chains.
 */
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { formatListenAddress, type Config } from '../config/index.js';
import { InstanceLockedError, listenKeys } from '../app/index.js';
import { isErrnoCode } from '../util/index.js';
import { exitCodes } from './cli-context.js';

/** sysexits(3) codes used here beyond cli-context's */
const EX_UNAVAILABLE = 69;
const EX_NOPERM = 77;

export interface OsProblem {
  message: string;
  exitCode: number;
}

interface SysError {
  code?: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
  hostname?: string;
  message: string;
}

/** The first error in the cause chain that carries an errno or SQLite code. */
function sysErrorOf(err: unknown): SysError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (isErrnoCode(code) || (typeof code === 'string' && code.startsWith('SQLITE_'))) return e;
  }
  return undefined;
}

function who(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** A "unix:" listener that cannot be bound: the key, the path and what to do. */
function socketProblem(e: SysError, key: string, path: string): OsProblem | undefined {
  const where = `${key}: unix:${path}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return { message: `${where} is in use: a running program (another correio?) accepts on it: stop it or set ${key} to another path`, exitCode: EX_UNAVAILABLE };
    case 'EACCES':
    case 'EPERM':
      return { message: `${where}: user ${who()} may not create a socket there: make its folder writable by that user, or set ${key} to another path`, exitCode: EX_NOPERM };
    case 'ENOENT':
    case 'ENOTDIR':
      return { message: `${where}: the folder does not exist: create it (mkdir -p ${dirname(path)}) or set ${key} to another path`, exitCode: exitCodes.config };
    case 'EEXIST':
      return { message: `${where} exists and is not a socket: move that file away or set ${key} to another path`, exitCode: exitCodes.config };
    default:
      return undefined;
  }
}

function listenProblem(e: SysError, config: Config | undefined): OsProblem | undefined {
  const keys = config ? listenKeys(config) : [];
  const socket = keys.find((k) => k.address.path !== undefined && (k.address.path === e.address || k.address.path === e.path));
  if (socket?.address.path !== undefined) return socketProblem(e, socket.key, socket.address.path);
  const byPort = e.port !== undefined ? keys.filter((k) => k.address.port === e.port) : [];
  const byHost = e.hostname !== undefined ? keys.filter((k) => k.address.host === e.hostname) : [];
  const hit = byPort.find((k) => e.address === undefined || k.address.host === e.address) ?? byPort[0] ?? byHost[0];
  const key = hit?.key ?? 'listen';
  const where = hit ? formatListenAddress(hit.address) : e.port !== undefined ? `${e.address ?? ''}:${e.port}` : (e.hostname ?? '?');
  switch (e.code) {
    case 'EADDRINUSE':
      return {
        message: `${key}: ${where} is already in use by another program: stop it (ss -ltnp shows which) or set ${key} to another port`,
        exitCode: EX_UNAVAILABLE,
      };
    case 'EACCES':
    case 'EPERM': {
      const port = hit?.address.port ?? e.port ?? 0;
      if (port > 0 && port < 1024) {
        return {
          message:
            `${key}: ${where}: ports below 1024 need privileges that this process (user ${who()}) does not have: ` +
            `allow node to bind them with "setcap cap_net_bind_service=+ep $(command -v node)" ` +
            `(or AmbientCapabilities=CAP_NET_BIND_SERVICE under systemd), or set ${key} to a port above 1023`,
          exitCode: EX_NOPERM,
        };
      }
      return { message: `${key}: ${where}: permission denied binding it (a security module may forbid it): allow it or choose another address`, exitCode: EX_NOPERM };
    }
    case 'EADDRNOTAVAIL':
      return {
        message: `${key}: ${where}: ${hit?.address.host ?? e.address ?? 'the address'} is not an address of this machine: use one it has (ip -brief address) or 0.0.0.0 / [::] for all`,
        exitCode: exitCodes.config,
      };
    case 'ENOTFOUND':
      return {
        message: `${key}: ${where}: host name "${e.hostname ?? hit?.address.host ?? '?'}" does not resolve to an address: write an IP address (e.g. 127.0.0.1) or a name from /etc/hosts`,
        exitCode: exitCodes.config,
      };
    case 'EAI_AGAIN':
      return {
        message: `${key}: ${where}: host name "${e.hostname ?? hit?.address.host ?? '?'}" could not be resolved now (DNS timed out): try again, or write an IP address`,
        exitCode: exitCodes.tempFail,
      };
    default:
      return undefined;
  }
}

/** A configured certificate or key that cannot be read: the key names it. */
function tlsFileProblem(e: SysError, config: Config | undefined): OsProblem | undefined {
  const key = e.path === undefined ? undefined : e.path === config?.smtp.tlsCert ? 'smtp.tls_cert' : e.path === config?.smtp.tlsKey ? 'smtp.tls_key' : undefined;
  if (key === undefined) return undefined;
  if (e.code === 'ENOENT') return { message: `${key}: ${e.path} does not exist: correct the path, or remove ${key} to use a generated certificate`, exitCode: exitCodes.config };
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return { message: `${key}: ${e.path} is not readable by user ${who()}: make it readable by that user (e.g. a group the user is in, mode 0640)`, exitCode: EX_NOPERM };
  }
  if (e.code === 'EISDIR') return { message: `${key}: ${e.path} is a directory: name the PEM file itself`, exitCode: exitCodes.config };
  return undefined;
}

function pathProblem(e: SysError, config: Config | undefined): OsProblem | undefined {
  const tls = tlsFileProblem(e, config);
  if (tls) return tls;
  const dataDir = config?.dataDir;
  const path = e.path ?? dataDir ?? '?';
  const inData = dataDir !== undefined && (path === dataDir || path.startsWith(`${dataDir}/`));
  // "directory" alone means the user directory; data_dir is "the data directory"
  const key = inData ? 'data_dir: ' : '';
  const place = inData && path !== dataDir ? ` (in the data directory ${dataDir})` : inData ? ' (the data directory)' : '';
  switch (e.code) {
    case 'EEXIST':
    case 'ENOTDIR':
      if (e.syscall !== 'mkdir' && e.code === 'EEXIST') return undefined;
      return {
        message: `${key}${path}${place} is a file, not a directory: set data_dir to a directory (it is made when absent), or move the file away`,
        exitCode: exitCodes.config,
      };
    case 'EACCES':
    case 'EPERM':
      return {
        message: `${key}permission denied on ${path}${place} for user ${who()}: make it writable by that user (chown -R ${who()} ${dataDir ?? path}) or run as its owner`,
        exitCode: EX_NOPERM,
      };
    case 'EROFS':
      return {
        message:
          `${key}${path}${place} is on a read-only file system: set data_dir to a writable place ` +
          `(under systemd with ProtectSystem=strict, list it in ReadWritePaths=)`,
        exitCode: exitCodes.config,
      };
    case 'ENOSPC':
    case 'EDQUOT':
      return {
        message: `${key}no space left on the device of ${path}${place}${e.code === 'EDQUOT' ? ' (disk quota exceeded)' : ''}: free some space there (or move data_dir to a larger file system) and try again`,
        exitCode: exitCodes.tempFail,
      };
    default:
      return undefined;
  }
}

function sqliteProblem(e: SysError, config: Config | undefined): OsProblem | undefined {
  const file = config ? `${config.dataDir}/directory.sqlite` : 'the directory database';
  const code = e.code ?? '';
  if (code.startsWith('SQLITE_READONLY')) {
    return {
      message:
        `data_dir: the database ${file} is read-only for user ${who()}: make it and the data directory writable by that user ` +
        `(under systemd with ProtectSystem=strict, list the data directory in ReadWritePaths=)`,
      exitCode: EX_NOPERM,
    };
  }
  if (code === 'SQLITE_CANTOPEN') {
    return { message: `data_dir: cannot open the database ${file}: check that the data directory exists and user ${who()} may write in it`, exitCode: EX_NOPERM };
  }
  if (code === 'SQLITE_FULL') {
    return { message: `data_dir: the database ${file} cannot grow: no space left on its device: free some space and try again`, exitCode: exitCodes.tempFail };
  }
  return undefined;
}

/**
 * One line (without the "correio: " prefix) and an exit status for an OS condition, or
 * undefined when `err` is not one (then it is reported as it is). `config` names the keys.
 */
export function describeOsError(err: unknown, config?: Config): OsProblem | undefined {
  if (err instanceof InstanceLockedError) return { message: err.message, exitCode: exitCodes.tempFail };
  const e = sysErrorOf(err);
  if (!e) return undefined;
  if (e.code?.startsWith('SQLITE_')) return sqliteProblem(e, config);
  const socketPath = config !== undefined && e.path !== undefined && listenKeys(config).some((k) => k.address.path === e.path);
  if (socketPath || e.syscall === 'listen' || e.syscall === 'bind' || e.syscall === 'getaddrinfo' || e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL') {
    return listenProblem(e, config);
  }
  return pathProblem(e, config);
}
