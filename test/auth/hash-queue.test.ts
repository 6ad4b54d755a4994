import { describe, expect, it } from 'vitest';
import { busyRetryAfterSeconds, createHashQueue } from '../../src/auth/hash-queue.js';
import { TooManyRequestsError } from '../../src/errors.js';

/** A piece of work the test finishes by hand. */
function gate() {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { done, open, fail };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the hashing line', () => {
  it('runs at most `concurrency` at once, the next in line as soon as a place frees up, in order', async () => {
    const queue = createHashQueue({ concurrency: 2, maxWaiting: 3 });
    const gates = Array.from({ length: 5 }, gate);
    const started: number[] = [];
    const runs = gates.map((g, i) => queue.run(async () => (started.push(i), g.done)));
    const firstFailure = runs[0]!.catch((error: Error) => error.message);
    await tick();
    expect(started).toEqual([0, 1]);
    gates[1]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.fail(new Error('scrypt failed'));
    await tick();
    expect(started).toEqual([0, 1, 2, 3]); // a failed run gives its place back too
    for (const g of gates.slice(2)) g.open();
    expect(await firstFailure).toBe('scrypt failed');
    await Promise.all(runs.slice(1));
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses at once, without running the work, when every place and every seat in line is taken', async () => {
    const queue = createHashQueue({ concurrency: 1, maxWaiting: 1 });
    const first = gate();
    const running = queue.run(() => first.done);
    const waiting = queue.run(async () => 'second');
    let ran = false;
    const refused = queue.run(async () => void (ran = true));
    await expect(refused).rejects.toBeInstanceOf(TooManyRequestsError);
    await expect(refused).rejects.toMatchObject({ code: 'too_many_requests', retryAfterSeconds: 1, details: { retryAfterSeconds: 1 } });
    expect(ran).toBe(false);
    first.open();
    await running;
    expect(await waiting).toBe('second');
    expect(await queue.run(async () => 'room again')).toBe('room again');
  });

  it('with no seats in line, only the running places count', async () => {
    const queue = createHashQueue({ concurrency: 1, maxWaiting: 0 });
    const first = gate();
    const running = queue.run(() => first.done);
    await expect(queue.run(async () => 'no')).rejects.toBeInstanceOf(TooManyRequestsError);
    first.open();
    await running;
  });

  it('Retry-After: the time the line ahead takes to drain, in whole seconds, at least one', () => {
    expect(busyRetryAfterSeconds(17, 1, 60)).toBe(2);
    expect(busyRetryAfterSeconds(18, 2, 100)).toBe(1);
    expect(busyRetryAfterSeconds(1, 1, 1)).toBe(1);
    expect(busyRetryAfterSeconds(40, 2, 250)).toBe(5);
  });
});
