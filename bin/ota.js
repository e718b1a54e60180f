#!/usr/bin/env node
// The `ota` command. Runs the compiled CLI (built by `npm install` through the prepare script).
import { main } from '../dist/node/src/cli/main.js';

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
