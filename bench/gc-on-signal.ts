import { renameSync, writeFileSync } from 'node:fs';

/**
 * Preloaded (`node --expose-gc --import`) into the Castellan instance of the memory
 * scenario only. On SIGUSR2: a full collection, so that what is read next is what the
 * cached abilities hold rather than garbage not yet collected, then process.memoryUsage()
 * written to BENCH_MEMORY_FILE for the bench to read.
 */
const collect = (globalThis as { gc?: () => void }).gc;
const file = process.env.BENCH_MEMORY_FILE;
process.on('SIGUSR2', () => {
  collect?.();
  collect?.();
  if (!file) return;
  // Written aside and renamed, so the reader never sees half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify({ collected: collect !== undefined, ...process.memoryUsage() }));
  renameSync(`${file}.tmp`, file);
});
