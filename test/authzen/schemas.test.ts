import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { authzenSchema, validate, type JsonSchema } from '../support/json-schema.js';

/**
 * The JSON Schemas the AuthZEN answers are held to, written from the specification
 * (test/authzen/schemas): valid JSON Schema, accepting the specification's own example
 * answers, refusing answers that break it.
 */
const dir = path.resolve(import.meta.dirname, 'schemas');
const files = readdirSync(dir).filter((f) => f.endsWith('.schema.json'));

describe('AuthZEN JSON Schemas', () => {
  it('are valid JSON Schema 2020-12 (checked as the schemas of an OpenAPI 3.1 document)', async () => {
    expect(files.length).toBe(6);
    const schemas = Object.fromEntries(files.map((f) => [f.replace('.schema.json', ''), JSON.parse(readFileSync(path.join(dir, f), 'utf8'))]));
    const document = { openapi: '3.1.0', info: { title: 'AuthZEN answers', version: '1.0' }, paths: {}, components: { schemas } };
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  // The specification's example answers (AuthZEN Authorization API 1.0, sections 5.5, 7.1.2, 7.2, 8, 9.2.2).
  const examples: Array<[string, unknown]> = [
    ['decision', { decision: true }],
    ['decision', { decision: false, context: { reason_admin: { '403': 'Request failed policy C076E82F' }, reason_user: { '403': 'Insufficient privileges. Contact your administrator' } } }],
    ['decision', { decision: false, context: { acr_values: 'urn:com:example:loa:3', amr_values: 'mfa hwk' } }],
    ['evaluations-response', { evaluations: [{ decision: true }, { decision: false }, { decision: true }] }],
    ['evaluations-response', { evaluations: [{ decision: true }, { decision: false, context: { code: '200', reason: 'deny_on_first_deny' } }] }],
    ['evaluations-response', { evaluations: [{ decision: true }, { decision: false, context: { error: { status: 404, message: 'Resource not found' } } }, { decision: false, context: { reason: 'Subject is a viewer of the resource' } }] }],
    ['search-resource-response', { page: { next_token: 'a3M9NDU2O3N6PTI=', count: 2, total: 3 }, results: [{ type: 'account', id: '123' }, { type: 'account', id: '456' }] }],
    ['search-resource-response', { page: { next_token: '', count: 1, total: 3 }, results: [{ type: 'account', id: '789' }] }],
    // Left out: the example of 8.3, whose page has no next_token, which 8.2.2 makes REQUIRED (the normative text wins).
    ['search-subject-response', { results: [{ type: 'user', id: 'alice@example.com' }, { type: 'user', id: 'bob@example.com' }] }],
    ['search-action-response', { page: { next_token: 'a3M9NDU2O3N6PTI=' }, results: [{ name: 'can_read' }, { name: 'can_write' }] }],
    [
      'metadata',
      {
        policy_decision_point: 'https://pdp.example.com',
        access_evaluation_endpoint: 'https://pdp.example.com/access/v1/evaluation',
        search_subject_endpoint: 'https://pdp.example.com/access/v1/search/subject',
        search_resource_endpoint: 'https://pdp.example.com/access/v1/search/resource',
      },
    ],
  ];
  for (const [name, example] of examples) {
    it(`${name} accepts the specification's example ${JSON.stringify(example).slice(0, 60)}…`, () => {
      expect(validate(authzenSchema(name), example)).toEqual([]);
    });
  }

  const broken: Array<[string, unknown, RegExp]> = [
    ['decision', { allowed: true }, /must have "decision"/],
    ['decision', { decision: 'true' }, /\$\.decision: must be boolean/],
    ['evaluations-response', { evaluations: [{ decision: true }, {}] }, /\$\.evaluations\[1\]: must have "decision"/],
    ['evaluations-response', { evaluations: [{ decision: false, context: { error: { status: '400' } } }] }, /status: must be integer/],
    ['search-subject-response', { results: [{ type: 'user' }] }, /must have "id"/],
    ['search-subject-response', { page: {}, results: [] }, /\$\.page: must have "next_token"/],
    ['search-action-response', { page: { next_token: '', count: -1 }, results: [] }, /count: must be at least 0/],
    ['search-action-response', { results: [{ id: 'view' }] }, /must have "name"/],
    ['metadata', { policy_decision_point: 'http://pdp.example.com', access_evaluation_endpoint: 'https://pdp.example.com/e' }, /must match/],
    ['metadata', { policy_decision_point: 'https://pdp.example.com' }, /must have "access_evaluation_endpoint"/],
  ];
  for (const [name, answer, problem] of broken) {
    it(`${name} refuses ${JSON.stringify(answer)}`, () => {
      expect(validate(authzenSchema(name), answer).join('\n')).toMatch(problem);
    });
  }

  it('the validator refuses keywords it does not implement rather than skipping them', () => {
    expect(() => validate({ type: 'object', dependentRequired: {} } as JsonSchema, {})).toThrow(/not supported/);
  });
});
