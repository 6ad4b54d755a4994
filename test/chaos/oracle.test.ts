import { describe, expect, it } from 'vitest';
import { allowedAt, boundFor, judge, truthFromAudit, type Ack, type Answer } from '../../bench/chaos/oracle.js';

// Seed at version 1: alice allowed, bob not. v2 revokes alice, v3 grants bob, v4 grants alice again.
const truth = truthFromAudit(
  1n,
  new Set(['alice']),
  4n,
  [
    { version: 3n, action: 'project.grant.user.put', target: 'grant:p1/user:bob' },
    { version: 2n, action: 'project.grant.user.delete', target: 'grant:p1/user:alice' },
    { version: 4n, action: 'project.grant.user.put', target: 'grant:p1/user:alice' },
    { version: 4n, action: 'project.rename', target: 'project:p1' },
    { version: 3n, action: 'project.grant.user.put', target: 'grant:p2/user:alice' },
  ],
  'p1',
);
const acks: Ack[] = [
  { version: 2n, at: 10_000 },
  { version: 3n, at: 20_000 },
  { version: 4n, at: 30_000 },
];
const bounds = { stalenessMs: 2000, degradedMs: 5000 };
const answer = (over: Partial<Answer>): Answer => ({ instance: 0, company: 'c', user: 'alice', sentAt: 0, receivedAt: 0, status: 200, allowed: true, version: 1n, ...over });

describe('chaos oracle', () => {
  it('rebuilds the truth per version from the audit log of one project', () => {
    expect([1n, 2n, 3n, 4n].map((v) => allowedAt(truth, 'alice', v))).toEqual([true, false, false, true]);
    expect([1n, 2n, 3n, 4n].map((v) => allowedAt(truth, 'bob', v))).toEqual([false, false, true, true]);
    expect(allowedAt(truth, 'alice', 5n)).toBeUndefined();
    expect(allowedAt(truth, 'alice', 0n)).toBeUndefined();
  });

  it('an answer that differs from the truth at its own version is wrong, whenever it came', () => {
    expect(judge(answer({ version: 2n, sentAt: 15_000, receivedAt: 15_001 }), truth, acks, bounds, [])?.verdict).toBe('wrong-allow');
    expect(judge(answer({ user: 'bob', allowed: false, version: 3n, sentAt: 25_000 }), truth, acks, bounds, [])?.verdict).toBe('wrong-deny');
    expect(judge(answer({ version: 7n }), truth, acks, bounds, [])?.verdict).toBe('unknown-version');
    expect(judge(answer({ status: 503, allowed: undefined, version: undefined }), truth, acks, bounds, [])).toBeNull();
  });

  it('an older version is correct within the staleness bound of the revoke, and a wrong allow past it', () => {
    const within = judge(answer({ version: 1n, sentAt: 11_999 }), truth, acks, bounds, []);
    expect(within).toMatchObject({ verdict: 'correct', stale: true, staleForMs: 1999 });
    expect(judge(answer({ version: 1n, sentAt: 12_001 }), truth, acks, bounds, [])?.verdict).toBe('wrong-allow');
    // Stale data that decides the same as the newer version is not wrong: only the decision counts.
    expect(judge(answer({ user: 'bob', allowed: false, version: 1n, sentAt: 15_000 }), truth, acks, bounds, [])).toMatchObject({ verdict: 'correct', staleForMs: 5000 });
  });

  it('while the instance could not reach PostgreSQL, the degraded bound applies', () => {
    const away = [{ from: 9000, to: 14_000 }];
    expect(boundFor(bounds, away, 12_500, 12_600)).toBe(5000);
    expect(boundFor(bounds, away, 14_000, 14_100)).toBe(2000);
    expect(judge(answer({ version: 1n, sentAt: 13_000, receivedAt: 13_001 }), truth, acks, bounds, away)?.verdict).toBe('correct');
    expect(judge(answer({ version: 1n, sentAt: 13_000, receivedAt: 13_001 }), truth, acks, bounds, [])?.verdict).toBe('wrong-allow');
    expect(judge(answer({ version: 1n, sentAt: 15_500, receivedAt: 15_501 }), truth, acks, { ...bounds, degradedMs: 10_000 }, [{ from: 9000, to: Infinity }])?.verdict).toBe('correct');
  });

  it('with minVersion, an answer below it is wrong when some version from minVersion on decides otherwise', () => {
    const below = judge(answer({ version: 1n, minVersion: 2n, sentAt: 10_500 }), truth, acks, bounds, []);
    expect(below).toMatchObject({ verdict: 'wrong-allow', belowMinVersion: true });
    expect(judge(answer({ version: 4n, minVersion: 2n, sentAt: 30_500 }), truth, acks, bounds, [])).toMatchObject({ verdict: 'correct', belowMinVersion: false });
  });
});
