/**
 * @module local-domain-lookup
 * What relay control's question at every RCPT costs on the SQLite directory: CPU time
 * (process.cpuUsage) per `isLocalDomain` call, half local and half not, on a directory file in
 * WAL mode as serve opens it. TREE (default: this checkout) is a built checkout whose
 * dist/src/directory/index.js is measured, so that two trees can be alternated:
 *
 *   node dist/bench/local-domain-lookup.js [TREE] [rounds] [calls]
 * Standards: none. Security: none. Limitations: CPU time on a shared machine still varies with
 *   the others' load: alternate the trees.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const tree = resolve(process.argv[2] ?? here);
const rounds = Number(process.argv[3] ?? 3);
const calls = Number(process.argv[4] ?? 200_000);
const { SqliteDirectory } = (await import(pathToFileURL(join(tree, 'dist', 'src', 'directory', 'index.js')).href)) as typeof import('../src/directory/index.js');
const tmp = await mkdtemp(join(tmpdir(), 'correio-domain-lookup-'));
const dir = await SqliteDirectory.open(join(tmp, 'directory.sqlite'), { localDomains: ['localhost', 'example.com'] });
try {
  for (let r = 0; r < rounds; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) await dir.isLocalDomain(i & 1 ? 'localhost' : 'example.net');
    const used = process.cpuUsage(start);
    console.log(`${tree}: isLocalDomain ${((used.user + used.system) / calls).toFixed(3)} µs CPU per call (${calls} calls)`);
  }
} finally {
  await dir.close();
  await rm(tmp, { recursive: true, force: true });
}
