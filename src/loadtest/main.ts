import { PolicyFileError } from '../policy/catalog.js';
import { parseOptions, UsageError, USAGE } from './options.js';
import { emit, run, SetupError } from './run.js';

/**
 * `castellan-loadtest` (`npx castellan-loadtest` in the repository, `castellan loadtest` in the
 * image). Exit codes: 0 passed, 1 a threshold was broken, 2 bad usage or a setup that failed
 * before any load (unreachable target, refused token, bad workload).
 */
export async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`castellan-loadtest: ${error.message}\n(--help for the options)`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const quiet = options.quiet;
  const tty = process.stderr.isTTY === true;
  let liveShown = false;
  const log = (line: string) => {
    if (quiet) return;
    if (liveShown) process.stderr.write('\n');
    liveShown = false;
    process.stderr.write(`${line}\n`);
  };
  const live = tty && !quiet ? (line: string) => void (process.stderr.write(`\r\x1b[K${line}`), (liveShown = true)) : null;
  const abort = new AbortController();
  // First Ctrl-C: stop loading, report what was measured, remove a synthetic company. Second: leave at once.
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    log('interrupted: finishing the requests in flight (Ctrl-C again to quit at once)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await run(options, { log, live, signal: abort.signal });
    if (liveShown) process.stderr.write('\n');
    emit(report, options, (text) => process.stdout.write(`${text}\n`), log);
    return report.passed ? 0 : 1;
  } catch (error) {
    if (liveShown) process.stderr.write('\n');
    if (error instanceof SetupError || error instanceof PolicyFileError) {
      console.error(`castellan-loadtest: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
