import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config.js';
import { openStore } from './database.js';
import { migrateAllDown, migrateDown, migrateToLatest } from './migrator.js';

// npm run migrate -- [up|down|reset] [--yes]
const USAGE = 'usage: npm run migrate -- [up|down|reset] [--yes]   (reset and down drop data: they ask first, or take --yes)';
const args = process.argv.slice(2);
const confirmed = args.includes('--yes');
const command = args.find((arg) => !arg.startsWith('--')) ?? 'up';
const commands = { up: migrateToLatest, down: migrateDown, reset: migrateAllDown };

/** Dropping data is asked for by name: a terminal answers "yes"; anything else needs --yes. */
async function confirmDrop(where: string): Promise<boolean> {
  if (confirmed) return true;
  if (!process.stdin.isTTY) {
    console.error(`migrate ${command} drops data in ${where}; run it again with --yes to confirm`);
    return false;
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`migrate ${command} drops data in ${where}. Type "yes" to go on: `);
  prompt.close();
  return answer.trim() === 'yes';
}

async function main(): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const run = Object.hasOwn(commands, command) ? commands[command as keyof typeof commands] : undefined;
  const unknown = args.find((arg) => arg.startsWith('--') && arg !== '--yes');
  if (run === undefined || unknown !== undefined) {
    console.error(`${unknown === undefined ? `unknown command "${command}"` : `unknown option ${unknown}`}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const store = await openStore({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 1, opener: `npm run migrate ${command}` });
  try {
    if (command !== 'up' && !(await confirmDrop(store.location))) return 1;
    const done = await run(store.db);
    console.log(done.length ? done.join('\n') : 'nothing to do');
    return 0;
  } finally {
    await store.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  // One line, like the server's own configuration errors: the message says what to do.
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
