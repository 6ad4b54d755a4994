import { describe, expect, it } from 'vitest';
import { createWriteBatch } from '../../src/http/write-batch.js';

describe('write batch', () => {
  it('holds writes queued in one tick until the event loop has polled, then runs them in order', async () => {
    const errors: unknown[] = [];
    const writeInBatch = createWriteBatch((error) => errors.push(error));
    const done: string[] = [];
    writeInBatch(() => done.push('a'));
    writeInBatch(() => done.push('b'));
    await Promise.resolve();
    expect(done).toEqual([]); // not on the microtask queue: after the poll phase
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual(['a', 'b']);
    writeInBatch(() => done.push('c'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual(['a', 'b', 'c']);
    expect(errors).toEqual([]);
  });

  it('a write that throws is reported and does not strand the rest of its batch', async () => {
    const errors: unknown[] = [];
    const writeInBatch = createWriteBatch((error) => errors.push(error));
    const done: string[] = [];
    const failure = new Error('socket gone');
    writeInBatch(() => done.push('before'));
    writeInBatch(() => {
      throw failure;
    });
    writeInBatch(() => done.push('after'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual(['before', 'after']);
    expect(errors).toEqual([failure]);
  });
});
