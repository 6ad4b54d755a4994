import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/chromium.js';

export const chromiumPresent = CHROMIUM !== null;
export const launch = launchChromium;

/**
 * Where screenshots go: CONSOLE_SCREENSHOTS=docs/console writes the README's pictures;
 * unset, none are taken (a test run leaves the repository as it was).
 */
const shotsDir = process.env.CONSOLE_SCREENSHOTS;
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: `${shotsDir}/${name}.png`, fullPage: false });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical findings on the page as it stands: [] when there are none. */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource }).catch(async () => {
    // The console's CSP refuses inline scripts, rightly: evaluate the source instead.
    await page.evaluate(axeSource);
  });
  const violations = await page.evaluate(async () => {
    const g = globalThis as any;
    const result = await g.axe.run(g.document, { resultTypes: ['violations'] });
    return (result.violations as any[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n: any) => n.target.join(' ')).join(', ')}`);
  });
  return violations;
}
