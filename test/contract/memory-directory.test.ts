/**
 * The in-memory test directory (test/helpers/memory-directory.ts) passes the same contracts as
 * the SQLite backend, so tests that use it stand for the real directory.
 */
import { directoryAdminContract, type MakeDirectory } from './directory-admin.contract.js';
import { directoryLookupContract } from './directory-lookup.contract.js';
import { MemoryDirectory, memoryDirectoryData } from '../helpers/memory-directory.js';

const makeMemory: MakeDirectory = async ({ localDomains }) => {
  const data = memoryDirectoryData();
  let current = new MemoryDirectory({ localDomains, data });
  return {
    dir: current,
    async reopen() {
      await current.close();
      current = new MemoryDirectory({ localDomains, data });
      return current;
    },
    async cleanup() {
      await current.close();
    },
  };
};

directoryAdminContract('MemoryDirectory', makeMemory);
directoryLookupContract('MemoryDirectory', makeMemory);
