#!/usr/bin/env node
// Runs the TypeScript entry point through tsx (a dependency), so the command needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/mock_worker.ts');
