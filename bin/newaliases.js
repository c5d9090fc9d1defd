#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';
await main(['newaliases', ...process.argv.slice(2)], {}, 'newaliases');
