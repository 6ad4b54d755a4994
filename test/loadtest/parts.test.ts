import { describe, expect, it } from 'vitest';
import { parseWorkloadText, WorkloadError } from '../../src/loadtest/cases.js';
import { createPathFinder } from '../../src/loadtest/gateway-paths.js';
import { parseOptions, UsageError } from '../../src/loadtest/options.js';
import { judgeStep, kneeOf, parseRamp, rampRates } from '../../src/loadtest/ramp.js';
import { PhaseRecorder } from '../../src/loadtest/recorder.js';
import { readers } from '../../src/loadtest/targets.js';
import { evaluateThreshold, parseThreshold, ThresholdSyntaxError, type ThresholdSubject } from '../../src/loadtest/thresholds.js';
import { loadPolicies } from '../../src/policy/catalog.js';

const policies = loadPolicies();

describe('thresholds', () => {
  it('parses latency bounds in µs, ms (the default) and s, errors and wrong as counts or shares, rates and the knee', () => {
    expect(parseThreshold('p99<5ms')).toEqual({ expression: 'p99<5ms', metric: 'p99', op: '<', value: 5 });
    expect(parseThreshold('p(99.9) <= 250us')).toMatchObject({ metric: 'p99.9', op: '<=', value: 0.25 });
    expect(parseThreshold('max<2s')).toMatchObject({ metric: 'max', value: 2000 });
    expect(parseThreshold('p50<3')).toMatchObject({ metric: 'p50', value: 3 });
    expect(parseThreshold('errors<0.1%')).toMatchObject({ metric: 'errors', value: 0.001, share: true });
    expect(parseThreshold('wrong==0')).toMatchObject({ metric: 'wrong', op: '==', value: 0, share: false });
    expect(parseThreshold('rps>=4000')).toMatchObject({ metric: 'rate', op: '>=', value: 4000 });
    expect(parseThreshold('knee>5000/s')).toMatchObject({ metric: 'knee', op: '>', value: 5000 });
    for (const bad of ['p99<<5', 'p98<5ms', 'errors<5ms', 'p99<5%', 'rate<3ms', 'latency']) expect(() => parseThreshold(bad), bad).toThrow(ThresholdSyntaxError);
  });

  const subject: ThresholdSubject = {
    latencyMs: { p50: 0.4, p90: 0.9, p99: 4.2, 'p99.9': 9, max: 30, mean: 0.6 },
    requests: 2000,
    errors: 3,
    decisions: 4000,
    wrong: 0,
    rate: 1990,
  };

  it('evaluates on a run: a share of requests or decisions, a count, a latency', () => {
    expect(evaluateThreshold(parseThreshold('p99<5ms'), subject)).toEqual({ expression: 'p99<5ms', ok: true, actual: 4.2, shown: '4.20 ms' });
    expect(evaluateThreshold(parseThreshold('errors<0.1%'), subject)).toEqual({ expression: 'errors<0.1%', ok: false, actual: 0.0015, shown: '3 of 2,000, 0.15%' });
    expect(evaluateThreshold(parseThreshold('errors<=3'), subject)).toMatchObject({ ok: true, actual: 3 });
    expect(evaluateThreshold(parseThreshold('rate>=2000'), subject)).toMatchObject({ ok: false, shown: '1,990/s' });
    expect(evaluateThreshold(parseThreshold('p50<500us'), subject)).toMatchObject({ ok: true, shown: '400 µs' });
  });

  it('a latency bound fails on a run without answers rather than passing on nothing', () => {
    const none = { ...subject, requests: 0, latencyMs: { ...subject.latencyMs, p99: Number.NaN } };
    expect(evaluateThreshold(parseThreshold('p99<5ms'), none)).toEqual({ expression: 'p99<5ms', ok: false, actual: null, shown: 'no answers' });
  });
});

describe('ramp', () => {
  it('spreads the steps evenly from FROM to TO, and the knee is the last step of the passing run from the start', () => {
    expect(rampRates(parseRamp('1000..20000', 10))).toEqual([1000, 3111, 5222, 7333, 9444, 11556, 13667, 15778, 17889, 20000]);
    expect(rampRates(parseRamp('500..600', 1))).toEqual([600]);
    expect(() => parseRamp('2000..1000', 3)).toThrow('TO above FROM');
    expect(() => parseRamp('fast', 3)).toThrow('FROM..TO');
    expect(kneeOf([{ targetRate: 100, within: true }, { targetRate: 200, within: true }, { targetRate: 300, within: false }, { targetRate: 400, within: true }])).toBe(200);
    expect(kneeOf([{ targetRate: 100, within: false }])).toBeNull();
  });

  it('a step that did not keep up with its rate is beyond the bound, whatever its latency', () => {
    const bound = [parseThreshold('p99<5ms')];
    const subject: ThresholdSubject = { latencyMs: { p50: 1, p90: 1, p99: 1, 'p99.9': 1, max: 1, mean: 1 }, requests: 900, errors: 0, decisions: 900, wrong: 0, rate: 900 };
    expect(judgeStep(bound, subject, 1000)).toMatchObject({ within: false, keptUp: false });
    expect(judgeStep(bound, { ...subject, rate: 960 }, 1000)).toMatchObject({ within: true, keptUp: true });
  });
});

describe('options', () => {
  const env = {};
  it('picks the load model: closed by default, open with --rate, a ramp with --ramp', () => {
    const closed = parseOptions(['--workload', 'w.jsonl'], env);
    expect(closed).toMatchObject({ url: 'http://127.0.0.1:8080', endpoint: 'check', model: { kind: 'closed', connections: 16 }, durationMs: 30_000, warmup: true, timeoutMs: 10_000, allowedRatio: 0.5 });
    expect(parseOptions(['--workload', 'w.jsonl', '--rate', '5000', '--duration', '60s'], env)).toMatchObject({ model: { kind: 'open', rate: 5000, connections: 64, maxInFlight: 10_000 }, durationMs: 60_000 });
    const ramp = parseOptions(['--workload', 'w.jsonl', '--ramp', '1000..20000', '--knee', 'p99<2ms'], env);
    expect(ramp).toMatchObject({ model: { kind: 'ramp', ramp: { from: 1000, to: 20000, steps: 10 } }, durationMs: 10_000 });
    expect(ramp !== 'help' && ramp.model.kind === 'ramp' && ramp.model.knee.map((t) => t.expression)).toEqual(['p99<2ms']);
    const defaultKnee = parseOptions(['--workload', 'w.jsonl', '--ramp', '10..20'], env);
    expect(defaultKnee !== 'help' && defaultKnee.model.kind === 'ramp' && defaultKnee.model.knee.map((t) => t.expression)).toEqual(['p99<5ms', 'errors<1%']);
  });

  it('takes credentials from the environment and never shows them in the command line it reports', () => {
    const options = parseOptions(['--company', 'acme', '--admin-token', 'secret-admin-token', '--check-token=secret-check-token'], { AUTH_JWT_SECRET: 'dev-secret' });
    expect(options).toMatchObject({ adminToken: 'secret-admin-token', checkToken: 'secret-check-token', signer: { secret: 'dev-secret', issuer: null, audience: null } });
    expect(options !== 'help' && options.commandLine).toBe('castellan-loadtest --company acme --admin-token *** --check-token=***');
    expect(parseOptions(['--company', 'acme'], { CASTELLAN_ADMIN_TOKEN: 't', CHECK_TOKEN: 'c' })).toMatchObject({ adminToken: 't', checkToken: 'c' });
  });

  it('refuses what cannot run, saying why', () => {
    const refused = (args: string[], message: string) => expect(() => parseOptions(args, env), args.join(' ')).toThrow(message);
    refused([], 'a workload is needed');
    refused(['--workload', 'a', '--company', 'b'], '--workload and --company: give one workload source');
    refused(['--company', 'acme'], '--company needs an admin token');
    refused(['--workload', 'a', '--rate', '10', '--ramp', '1..2'], '--rate and --ramp');
    refused(['--workload', 'a', '--knee', 'p99<5ms'], '--knee bounds a --ramp');
    refused(['--workload', 'a', '--threshold', 'knee>=10'], 'a knee threshold needs --ramp');
    refused(['--workload', 'a', '--endpoint', 'grpc'], '--endpoint grpc: one of check, batch, forward-auth, authzen');
    refused(['--workload', 'a', '--duration', 'soon'], '--duration soon');
    refused(['--workload', 'a', '--connections', '0'], '--connections: must be at least 1');
    refused(['--workload', 'a', '--allowed', '150%'], '--allowed 150%');
    refused(['--synthetic', 'users=ten'], '--synthetic users=ten');
    refused(['--workload', 'a', '--bogus'], "Unknown option '--bogus'");
    expect(() => parseOptions(['--bogus'], env)).toThrow(UsageError);
  });
});

describe('workload files', () => {
  it('reads /v1/check bodies with an optional expected decision and token, checked by the server schema', () => {
    const cases = parseWorkloadText(
      [
        JSON.stringify({ company: 'acme', principal: { id: 'u-1' }, action: 'view', resource: { type: 'Project', id: 'p1' }, expect: 'allow' }),
        '',
        JSON.stringify({ company: 'acme', principal: { token: 'eyJ.x.y' }, action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' }),
      ].join('\n'),
      policies.catalog,
    );
    expect(cases).toEqual([
      { body: { company: 'acme', principal: { id: 'u-1' }, action: 'view', resource: { type: 'Project', id: 'p1' } }, expect: true, token: null },
      { body: { company: 'acme', principal: { token: 'eyJ.x.y' }, action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' }, expect: null, token: 'eyJ.x.y' },
    ]);
  });

  it('names the line of a mistake', () => {
    const line = (body: unknown) => JSON.stringify(body);
    const base = { company: 'acme', principal: { id: 'u-1' }, action: 'view', resource: { type: 'Project', id: 'p1' } };
    expect(() => parseWorkloadText(`${line(base)}\n{oops`, policies.catalog, 'w.jsonl')).toThrow(/^w\.jsonl:2: not JSON/);
    expect(() => parseWorkloadText(line({ ...base, expect: 'maybe' }), policies.catalog, 'w.jsonl')).toThrow(/^w\.jsonl:1: expect: /);
    expect(() => parseWorkloadText(line({ ...base, action: 'use' }), policies.catalog, 'w.jsonl')).toThrow('w.jsonl:1: action: "use" is not an action of Project');
    expect(() => parseWorkloadText(line({ ...base, extra: 1 }), policies.catalog, 'w.jsonl')).toThrow(/^w\.jsonl:1: /);
    expect(() => parseWorkloadText('\n\n', policies.catalog, 'w.jsonl')).toThrow(WorkloadError);
  });
});

describe('forward-auth requests from questions (policies/routes.json)', () => {
  const finder = createPathFinder(policies.catalog, policies.routes);
  it('finds the route that asks exactly the question, with its path values filled in', () => {
    expect(finder.requestFor('acme', { action: 'view', resource: { type: 'Scenario', id: 's-9', attributes: { projectId: 'p1' } } })).toEqual({ method: 'GET', path: '/api/companies/acme/projects/p1/scenarios/s-9' });
    expect(finder.requestFor('acme', { action: 'view', resource: { type: 'Project', id: 'p1' } })).toEqual({ method: 'GET', path: '/api/companies/acme/projects/p1' });
    expect(finder.requestFor('acme', { action: 'view', resource: { type: 'CompanySettings' }, field: 'general' })).toEqual({ method: 'GET', path: '/api/companies/acme/settings/general' });
    expect(finder.requestFor('acme', { action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' })).toEqual({ method: 'PATCH', path: '/api/companies/acme/settings/branding' });
    // A scenario's id decides nothing: one is made up where the path needs it.
    expect(finder.requestFor('acme', { action: 'delete', resource: { type: 'Scenario', attributes: { projectId: 'p2' } } })).toEqual({ method: 'DELETE', path: '/api/companies/acme/projects/p2/scenarios/lt-1' });
  });

  it('never a path several routes match (decided by all of them), and none for a question no route asks', () => {
    // create Scenario: POST .../scenarios, not GET .../scenarios/new, which also matches the view route.
    expect(finder.requestFor('acme', { action: 'create', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } })).toEqual({ method: 'POST', path: '/api/companies/acme/projects/p1/scenarios' });
    expect(finder.requestFor('acme', { action: 'view', resource: { type: 'Member' } })).toBeNull();
    expect(finder.requestFor('acme', { action: 'edit', resource: { type: 'CompanySettings' }, field: 'general' })).toBeNull();
    // A project's id is its project: no made-up one.
    expect(finder.requestFor('acme', { action: 'view', resource: { type: 'Project' } })).toBeNull();
  });
});

describe('answers and what is counted', () => {
  it("forward-auth: 200 allows, 403 denies, but a 403 refusing the gateway's own credential is an error", () => {
    expect(readers['forward-auth'](200, { 'x-castellan-version': '7' }, '')).toEqual({ ok: true, decisions: [true], version: '7' });
    expect(readers['forward-auth'](403, { 'x-castellan-reason': 'no rule allows view Project' }, '')).toEqual({ ok: true, decisions: [false], version: null });
    expect(readers['forward-auth'](403, { 'x-castellan-reason': "the gateway's credential (X-Castellan-Check-Token) is missing or wrong" }, '')).toEqual({ ok: false, error: 'HTTP 403 check token refused (X-Castellan-Check-Token)' });
    expect(readers['forward-auth'](503, {}, '')).toEqual({ ok: false, error: 'HTTP 503' });
  });

  it('check and batch: decisions from the body, errors named by status and code', () => {
    expect(readers.check(200, {}, '{"allowed":false,"reason":"r","version":"3"}')).toEqual({ ok: true, decisions: [false], version: '3' });
    expect(readers.check(503, {}, '{"error":{"code":"unavailable","message":"m"}}')).toEqual({ ok: false, error: 'HTTP 503 unavailable' });
    expect(readers.batch(200, {}, '{"version":"3","results":[{"allowed":true,"reason":"a"},{"allowed":false,"reason":"b"}]}')).toEqual({ ok: true, decisions: [true, false], version: '3' });
    expect(readers.authzen(200, {}, '{"decision":true,"context":{"version":"4"}}')).toEqual({ ok: true, decisions: [true], version: '4' });
  });

  it('counts each decision of a batch against its own expectation, and a drain after the end in the last second', () => {
    const recorder = new PhaseRecorder(1000, 0, 2000, 0);
    recorder.noteSend(1000);
    recorder.answer(1500, 2, 200, { ok: true, decisions: [true, false, true], version: '9' }, [true, true, null]);
    recorder.answer(2500, 3, 200, { ok: true, decisions: [false], version: '9' }, [false]);
    recorder.answer(3400, 900, 200, { ok: true, decisions: [true], version: '10' }, null);
    recorder.failure(3450, 'timeout', 1000);
    recorder.finish();
    expect({ allowed: recorder.allowed, denied: recorder.denied, checked: recorder.checked, wrong: recorder.wrong, errors: recorder.errors, unanswered: recorder.unanswered }).toEqual({
      allowed: 3,
      denied: 2,
      checked: 3,
      wrong: 1,
      errors: 1,
      unanswered: 1,
    });
    expect(Object.fromEntries(recorder.versions)).toEqual({ '9': 2, '10': 1 });
    expect(recorder.timeline.map((p) => [p.t, p.responses, p.errors])).toEqual([
      [2, 1, 0],
      [3, 2, 1],
    ]);
  });
});
