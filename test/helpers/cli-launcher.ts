/**
 * @module cli-launcher
 * Runs src/cli/main.ts under tsx (`node --import tsx test/helpers/cli-launcher.ts ARGS`), the
 * uncompiled twin of bin/correio.js, for tests run with `npx tsx --test`.
 */
import { main } from '../../src/cli/main.js';

await main(process.argv.slice(2));
