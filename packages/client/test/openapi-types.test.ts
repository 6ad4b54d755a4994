import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, startApp, type TestApp, type TestEnvironment } from '../../../test/support/app.js';
import { servicesUp } from '../../../test/support/services.js';
import { generateClientTypes, typeOf } from '../codegen/openapi-types.js';

/**
 * The client's types are generated from the document a real server serves, never typed by
 * hand: while src/generated/api.ts differs from what /openapi.json generates, this fails
 * (`npm run client:types` writes it again). The document does not depend on the store: an
 * instance on PostgreSQL serves it, or an embedded one where PostgreSQL is absent (slower to start).
 */
describe('client types follow /openapi.json', () => {
  let env: TestEnvironment | undefined;
  let app: TestApp;
  beforeAll(async () => {
    if (servicesUp) {
      env = await createTestEnvironment();
      app = await env.start();
    } else app = await startApp({ DATA_DIR: 'memory://' });
  });
  afterAll(async () => {
    await (env ? env.close() : app?.close());
  });

  it('src/generated/api.ts is what the running server\'s document generates', async () => {
    const document = (await (await fetch(`${app.url}/openapi.json`)).json()) as Parameters<typeof generateClientTypes>[0];
    await expect(generateClientTypes(document)).toMatchFileSnapshot('../src/generated/api.ts');
  });
});

describe('the generator', () => {
  it('writes unions, records, arrays and optional members as TypeScript', () => {
    const type = typeOf({
      type: 'object',
      properties: {
        kind: { type: 'string', enum: ['all', 'some'] },
        'x-y': { type: ['string', 'number'] },
        list: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'boolean' }] } },
        map: { type: 'object', additionalProperties: { type: 'boolean' } },
      },
      required: ['kind'],
      additionalProperties: false,
    });
    expect(type).toBe('{\n  kind: "all" | "some";\n  "x-y"?: string | number;\n  list?: (string | boolean)[];\n  map?: {\n    [key: string]: boolean;\n  };\n}');
  });

  it('refuses what it does not understand instead of typing it any', () => {
    expect(() => typeOf({ type: 'tuple' })).toThrow(/unsupported/);
    expect(() => typeOf({ $ref: 'https://example.test/schema' })).toThrow(/unsupported/);
  });
});
