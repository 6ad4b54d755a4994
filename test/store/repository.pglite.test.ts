import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/database.js';
import { repositorySuite } from './repository-suite.js';

// Embedded mode needs no service, so this suite always runs.
const dir = mkdtempSync(path.join(tmpdir(), 'castellan-pglite-'));
repositorySuite(
  'embedded PGlite',
  () => openStore({ dataDir: dir }),
  async () => rmSync(dir, { recursive: true, force: true }),
);
