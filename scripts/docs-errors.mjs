#!/usr/bin/env node
// Writes docs/errors.md from the catalogue in protocols/codes.ts (build first: npm run build).
import { writeFileSync } from 'node:fs';
import { errorsMarkdown } from '../dist/protocols/codes.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsMarkdown());
