/**
 * @module dkim-keyring
 * Where a configuration's DKIM signing keys live, and the one live set of them a process signs
 * and seals with. With `[storage] url = "file:"` they are files under data_dir/dkim
 * (policy/trust/dkim-keys.ts), read at start and at each reload. With PostgreSQL they are rows
 * of `dkim_keys` (directory/pg-dkim-keys.ts), shared by every node: the keyring reads them
 * again every few seconds, so a key made on one node signs on all of them without a reload;
 * files under data_dir/dkim still sign where PostgreSQL has no key of that domain and selector
 * (a node set up before its keys were moved in: `correio migrate`).
 * Standards: RFC 6376 (keys only).
 * Security: keys are never logged; a key that cannot be read is a problem named by its place
 *   (file, or domain/selector in PostgreSQL), never printed. A failed refresh keeps the keys
 *   held (mail is signed as before), and is tried again at the next one.
 * Limitations: a key removed from the table or made inactive stops signing at the next refresh
 *   (up to `refreshMs`); a key's file left on a node still signs there.
 */
import type { Config } from '../config/index.js';
import { PgDkimKeys, type DkimKeyRow } from '../directory/index.js';
import { checkedKeyNames, dkimKeyDir, generateDkimKey, keyRecordName, loadDkimKeys, newDkimKeyPem, signingKeyOf, type KeyAlgorithm, type SigningKey } from '../policy/index.js';
import { isPostgresUrl } from '../util/index.js';

/** how often the keys are read again from PostgreSQL */
export const refreshMs = 5000;

export type KeyMap = Map<string, SigningKey[]>;

type ParseKey = (domain: string, selector: string, pem: string) => SigningKey;

/** The keys of `rows` (active ones) over those of the files, by domain; problems named. */
function merge(rows: readonly DkimKeyRow[], files: { keys: KeyMap; problems: string[] }, parse: ParseKey = signingKeyOf): { keys: KeyMap; problems: string[] } {
  const keys: KeyMap = new Map();
  const problems = [...files.problems];
  const inTable = new Set(rows.map((r) => `${r.domain}/${r.selector}`));
  for (const r of rows) {
    if (!r.active) continue;
    try {
      keys.set(r.domain, [...(keys.get(r.domain) ?? []), parse(r.domain, r.selector, r.privateKey)]);
    } catch (err) {
      problems.push(`${r.domain}/${r.selector} in PostgreSQL: ${(err as Error).message}`);
    }
  }
  for (const [domain, list] of files.keys) {
    for (const k of list) if (!inTable.has(`${domain}/${k.selector}`)) keys.set(domain, [...(keys.get(domain) ?? []), k]);
  }
  return { keys, problems };
}

/** The signing keys of a configuration now (PostgreSQL's active rows and the data directory's files); `readOnly`: writes nothing (correio check). */
export async function loadSigningKeys(config: Config, opts: { readOnly?: boolean } = {}): Promise<{ keys: KeyMap; problems: string[] }> {
  const files = loadDkimKeys(config.dataDir);
  if (!isPostgresUrl(config.storage.url)) return files;
  const table = await PgDkimKeys.open(config.storage.url, opts);
  try {
    return merge(await table.list(), files);
  } finally {
    await table.close();
  }
}

/**
 * Makes a key for DOMAIN/SELECTOR where the configuration keeps them: a file under data_dir
 * (files), a row of dkim_keys (PostgreSQL). An Error with a readable message when the names are
 * bad or the key exists already ("exists already" in it).
 */
export async function makeDkimKey(config: Config, domain: string, selector: string, algorithm: KeyAlgorithm, opts: { inactive?: boolean } = {}): Promise<{ where: string; name: string; value: string }> {
  if (!isPostgresUrl(config.storage.url)) {
    if (opts.inactive) throw new KeyStateError('a key file signs from the next start or reload: make it when it is to sign (an inactive key needs [storage] url = "postgres://…")');
    const made = generateDkimKey(config.dataDir, domain, selector, algorithm);
    return { where: made.file, name: made.name, value: made.value };
  }
  const names = checkedKeyNames(domain, selector);
  const { pem, value } = newDkimKeyPem(algorithm);
  const table = await PgDkimKeys.open(config.storage.url);
  try {
    const row = { ...names, algorithm: algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256', privateKey: pem, active: opts.inactive !== true };
    if (!(await table.add(row))) throw new Error(`a key for selector ${names.selector} of ${names.domain} exists already in PostgreSQL`);
  } finally {
    await table.close();
  }
  return { where: `PostgreSQL (dkim_keys, shared by every node)`, name: keyRecordName(names.domain, names.selector), value };
}

/** A key state change that the configuration's key store cannot make (files), or of a key that does not exist. */
export class KeyStateError extends Error {}

/** Every key of the configuration: DOMAIN, SELECTOR, algorithm, whether it signs, and where it is. */
export async function listDkimKeys(config: Config): Promise<{ domain: string; selector: string; algorithm: string; active: boolean; where: 'file' | 'postgres' }[]> {
  const out: { domain: string; selector: string; algorithm: string; active: boolean; where: 'file' | 'postgres' }[] = [];
  const seen = new Set<string>();
  if (isPostgresUrl(config.storage.url)) {
    const table = await PgDkimKeys.open(config.storage.url);
    try {
      for (const r of await table.list()) {
        out.push({ domain: r.domain, selector: r.selector, algorithm: r.algorithm, active: r.active, where: 'postgres' });
        seen.add(`${r.domain}/${r.selector}`);
      }
    } finally {
      await table.close();
    }
  }
  for (const list of loadDkimKeys(config.dataDir).keys.values()) {
    for (const k of list) if (!seen.has(`${k.domain}/${k.selector}`)) out.push({ domain: k.domain, selector: k.selector, algorithm: k.algorithm, active: true, where: 'file' });
  }
  return out.sort((x, y) => x.domain.localeCompare(y.domain) || x.selector.localeCompare(y.selector));
}

/**
 * Makes a key in PostgreSQL sign or stop signing (a rotation: the new selector once its record
 * is published, then the old one off), on every node within `refreshMs`. KeyStateError with
 * files (a file signs while it is there) or for a key PostgreSQL does not have.
 */
export async function setDkimKeyActive(config: Config, domain: string, selector: string, active: boolean): Promise<void> {
  const names = checkedKeyNames(domain, selector);
  if (!isPostgresUrl(config.storage.url)) throw new KeyStateError(`with "file:" storage a key signs while its file is in ${dkimKeyDir(config.dataDir)}: move ${names.domain}/${names.selector}.pem in or out, then correio reload`);
  const table = await PgDkimKeys.open(config.storage.url);
  try {
    if (!(await table.setActive(names.domain, names.selector, active))) throw new KeyStateError(`no key for selector ${names.selector} of ${names.domain} in PostgreSQL`);
  } finally {
    await table.close();
  }
}

/** What the admin API needs of the keys (read now, and a new one made where they are kept). */
export function dkimKeysOf(config: () => Config): { keys(): Promise<KeyMap>; make(domain: string, selector: string, algorithm: KeyAlgorithm): Promise<{ name: string; value: string }> } {
  return {
    keys: async () => (await loadSigningKeys(config())).keys,
    make: (domain, selector, algorithm) => makeDkimKey(config(), domain, selector, algorithm),
  };
}

/**
 * The process's keys as one live map (the signer and the ARC sealers hold it and see each
 * change): filled at open, again at each reload, and on PostgreSQL every `refreshMs`.
 */
export class DkimKeyring {
  readonly keys: KeyMap = new Map();
  #problems: string[] = [];
  #config: Config;
  /** the key files as read at the last start or reload (files change what signs only then) */
  #files: ReturnType<typeof loadDkimKeys> = { keys: new Map(), problems: [] };
  #timer: NodeJS.Timeout | undefined;
  #table: PgDkimKeys | undefined;
  /** rows already parsed, by domain, selector and key: a refresh parses only what changed */
  #parsed = new Map<string, SigningKey>();
  readonly #parse: ParseKey = (domain, selector, pem) => {
    const id = `${domain}\0${selector}\0${pem}`;
    let key = this.#parsed.get(id);
    if (!key) {
      key = signingKeyOf(domain, selector, pem);
      this.#parsed.set(id, key);
    }
    return key;
  };

  private constructor(config: Config) {
    this.#config = config;
  }

  static async open(config: Config): Promise<DkimKeyring> {
    const ring = new DkimKeyring(config);
    await ring.reload(config);
    return ring;
  }

  /** problems met at the last read (unreadable keys) */
  get problems(): readonly string[] {
    return this.#problems;
  }

  /** Whether the keys are shared through PostgreSQL (and so may appear without a reload). */
  get shared(): boolean {
    return isPostgresUrl(this.#config.storage.url);
  }

  /** Reads the keys again (start, reload); on PostgreSQL, keeps reading them every refreshMs. */
  async reload(config: Config): Promise<void> {
    this.#config = config;
    this.#files = loadDkimKeys(config.dataDir);
    if (!this.shared) {
      await this.#stopTable();
      this.#use(this.#files);
      return;
    }
    this.#table ??= await PgDkimKeys.open(config.storage.url);
    this.#use(merge(await this.#table.list(), this.#files, this.#parse));
    this.#timer ??= setInterval(() => void this.#refresh(), refreshMs).unref();
  }

  async #refresh(): Promise<void> {
    const table = this.#table;
    if (!table) return;
    try {
      this.#use(merge(await table.list(), this.#files, this.#parse));
    } catch {
      // PostgreSQL away: the keys held keep signing; the next refresh tries again
    }
  }

  #use(next: { keys: KeyMap; problems: string[] }): void {
    // forget parsed rows no longer held (a removed or rotated key)
    const held = new Set([...next.keys.values()].flat());
    for (const [id, key] of this.#parsed) if (!held.has(key)) this.#parsed.delete(id);
    this.keys.clear();
    for (const [d, list] of next.keys) this.keys.set(d, list);
    this.#problems = next.problems;
  }

  async #stopTable(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const t = this.#table;
    this.#table = undefined;
    await t?.close();
  }

  close(): Promise<void> {
    return this.#stopTable();
  }
}
