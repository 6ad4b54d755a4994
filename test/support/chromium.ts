import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core, for tests that look at a page as a person
 * would. Skipped when absent, failed instead under REQUIRE_SERVICES=1 (as gateways.ts does
 * for nginx and Caddy); `.ci/run` installs it.
 */
function findChromium(): string | null {
  for (const candidate of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (candidate && existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : null;
}

export const CHROMIUM = findChromium();
if (process.env.REQUIRE_SERVICES === '1' && !CHROMIUM) throw new Error('REQUIRE_SERVICES=1 but chromium (Debian package chromium) is not installed');

export function launchChromium(): Promise<Browser> {
  // As root (CI), Chromium's sandbox needs user namespaces it may not have.
  return chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
}
