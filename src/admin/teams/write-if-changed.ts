import type { Caller } from '../context.js';
import { writeCompany, type WriteContext, type WriteDeps } from '../transaction.js';

/** Thrown by `changing()` on the first, lock-only pass; never leaves this module. */
class ChangeNeeded extends Error {}

export interface ChangeContext extends WriteContext {
  /**
   * Call before the first write that can change a decision. On the lock-only pass it
   * rolls the transaction back so the write runs again with a version bump.
   */
  changing(): void;
}

/**
 * An idempotent write: a repeat that changes nothing (the same PUT sent twice, a retry
 * after a lost answer) keeps the company's version, so it flushes no cache anywhere and
 * answers with the version the state already had. The work runs under the company's
 * lock without a bump first; only when it reaches a real change does it run again with
 * one. Permission checks run before `changing()`, so a refused write bumps nothing.
 */
export async function writeIfChanged<T>(
  deps: WriteDeps,
  caller: Caller,
  companyId: string,
  work: (ctx: ChangeContext) => Promise<T>,
): Promise<{ result: T; version: string }> {
  try {
    return await writeCompany(
      deps,
      caller,
      companyId,
      (ctx) =>
        work({
          ...ctx,
          changing: () => {
            throw new ChangeNeeded();
          },
        }),
      { changesDecisions: false },
    );
  } catch (error) {
    if (!(error instanceof ChangeNeeded)) throw error;
  }
  return writeCompany(deps, caller, companyId, (ctx) => work({ ...ctx, changing: () => undefined }));
}
