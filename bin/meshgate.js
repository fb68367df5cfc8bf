#!/usr/bin/env node
// Runs the compiled CLI (npm run build). From a source checkout without a build, use: npx tsx src/cli/main.ts
import('../dist/src/cli/main.js');
