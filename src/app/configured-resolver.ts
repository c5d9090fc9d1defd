/**
 * @module configured-resolver
 * The resolver a configuration describes — the directory, the aliases file qualified for the
 * local domains, the static routes — built the same way for the server and for the commands
 * that answer like it (`correio resolve`, `correio check`, `sendmail -bv`).
 * Standards: aliases(5) (bare names apply to every local domain).
 * Security: an aliases file that cannot be read keeps the previous good set in force.
 * Limitations: none.
 */
import type { Alias, DirectoryLookup } from '../core/index.js';
import type { Config } from '../config/index.js';
import { aliasMap, qualifyAliases, readAliasesFile } from '../directory/index.js';
import { AliasResolver } from '../resolve/index.js';

/** The aliases file of a configuration, as the resolver reads it. */
export class ConfiguredAliases {
  private current: ReadonlyMap<string, Alias> = new Map();
  private problems: string[] = [];
  constructor(private config: Config) {}

  /** The configuration of a reload (its aliases_file and local domains); load() reads it. */
  use(config: Config): void {
    this.config = config;
  }

  /** the aliases now in force, keyed by lower-case qualified name */
  readonly map = (): ReadonlyMap<string, Alias> => this.current;

  /** problems of the last load, each "file:line: message" */
  errors(): readonly string[] {
    return this.problems;
  }

  /** (Re)reads the file; on a read error the previous set stays and the error is reported. */
  async load(): Promise<readonly string[]> {
    const file = this.config.aliasesFile;
    if (file === undefined) return this.problems;
    try {
      const parsed = await readAliasesFile(file);
      this.current = aliasMap(qualifyAliases(parsed.aliases, this.config.localDomains));
      this.problems = parsed.errors.map((e) => `${file}:${e.line}: ${e.message}`);
    } catch (err) {
      this.problems = [`${file}: ${err instanceof Error ? err.message : String(err)}`];
    }
    return this.problems;
  }
}

export function configuredResolver(config: Config, directory: DirectoryLookup, aliases: ConfiguredAliases): AliasResolver {
  return new AliasResolver({
    directory,
    aliasesFromFile: aliases.map,
    routes: config.delivery.routes,
    targetPolicy: { allowMailToFiles: config.delivery.allowMailToFiles, allowMailToCommands: config.delivery.allowMailToCommands },
  });
}

/** A resolver configured as the server's, with the aliases file read now (`correio resolve`, `check`, the admin API). */
export async function makeResolver(dir: DirectoryLookup, config: Config): Promise<{ resolver: AliasResolver; file: ReadonlyMap<string, Alias> }> {
  const aliases = new ConfiguredAliases(config);
  await aliases.load();
  return { resolver: configuredResolver(config, dir, aliases), file: aliases.map() };
}
