/**
 * @module sqlite-directory-file
 * The SQLite handle under the directory: the file as the server and the CLI open it (made 0600
 * for the password hashes; WAL so the CLI writes while the server reads; synchronous FULL), and
 * a private in-memory image of it for `correio check`, taken without writing anything to the
 * data directory.
 * Standards: none.
 * Security: the file and SQLite's -wal and -shm files are created 0600.
 * Limitations: the snapshot of a file a server has open goes through SQLite (joining its
 *   write-ahead log); of a closed file, it is the file's octets.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** The directory file opened for reading and writing (created when absent). */
export function openDirectoryDatabase(file: string, busyTimeoutMs: number): Database.Database {
  if (file !== ':memory:') {
    mkdirSync(dirname(file), { recursive: true });
    // made 0600 (password hashes); SQLite gives its -wal and -shm files the same mode
    closeSync(openSync(file, 'a', 0o600));
  }
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** An in-memory copy of the directory file (empty when the file is absent). */
export function snapshotDirectoryDatabase(file: string): Database.Database {
  let image: Buffer | undefined;
  if (existsSync(`${file}-wal`)) {
    // a server has it open: read through SQLite, which joins the write-ahead log (the -wal
    // and -shm files exist already, so a reader creates nothing)
    const source = new Database(file, { readonly: true, fileMustExist: true });
    try {
      image = source.serialize();
    } finally {
      source.close();
    }
  } else if (existsSync(file)) {
    // closed cleanly: the file is the whole database (opening it would create -wal and -shm)
    image = readFileSync(file);
  }
  if (image !== undefined && image.length >= 20) {
    // header octets 18-19 = 2 mark WAL mode, which an in-memory database cannot take
    image[18] = 1;
    image[19] = 1;
  }
  return new Database(image ?? ':memory:');
}
