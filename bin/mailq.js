#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';
await main(['queue', 'list', ...process.argv.slice(2)], {}, 'mailq');
