#!/usr/bin/env node
/**
 * `castellan`, the image's command line: `castellan serve` (what the image's CMD runs as
 * `node dist/main.js`), `castellan loadtest ...`, `castellan migrate up|down|reset`,
 * `castellan policy-test`. Each subcommand is its own module, loaded only when asked for.
 */
const USAGE = `usage: castellan <command> [options]

commands
  serve          start the server (the image's default command)
  loadtest       load a Castellan deployment and measure its check latency (castellan loadtest --help)
  migrate        apply or roll back database migrations: up, down or reset
  policy-test    run the policy test cases of policies/tests`;

const [command, ...rest] = process.argv.slice(2);
// The subcommands read their own arguments from process.argv, as when run by themselves.
process.argv.splice(2, 1);
switch (command) {
  case 'serve':
    await import('./main.js');
    break;
  case 'loadtest': {
    const { main } = await import('./loadtest/main.js');
    process.exitCode = await main(rest);
    break;
  }
  case 'migrate':
    await import('./store/migrate-cli.js');
    break;
  case 'policy-test':
    await import('./policy-test-cli.js');
    break;
  case undefined:
  case '--help':
  case '-h':
  case 'help':
    console.log(USAGE);
    break;
  default:
    console.error(`castellan: unknown command "${command}"\n${USAGE}`);
    process.exitCode = 2;
}
