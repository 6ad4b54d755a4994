import { describe } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';
import { repositorySuite } from './repository-suite.js';

describe.skipIf(!servicesUp)('PostgreSQL', () => {
  let database: TestDatabase | undefined;
  repositorySuite(
    'PostgreSQL',
    async () => {
      database ??= await createTestDatabase();
      return openStore({ databaseUrl: database.url, dataDir: 'unused' });
    },
    async () => database?.drop(),
  );
});
