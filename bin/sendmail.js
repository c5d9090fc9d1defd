#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';
await main(['sendmail', ...process.argv.slice(2)], {}, 'sendmail');
