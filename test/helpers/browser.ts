/**
 * Browser tests: Playwright (playwright-core) driving Debian's Chromium at /usr/bin/chromium, headless. `.ci/run`
 * installs it; without it the browser tests skip and say why. A failing test saves a screenshot, the page's HTML
 * and its console into test-results/browser/ (git-ignored).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { repoRoot } from "../../src/config.js";

export const CHROMIUM = "/usr/bin/chromium";

/** `skip` option for node:test: a reason when Chromium is not installed. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export const FAILURE_DIR = join(repoRoot(), "test-results", "browser");

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 80) || "test";
}

/**
 * Runs fn with a fresh page (own context: no shared storage between tests). Page errors fail the test; on any
 * failure the screenshot, HTML and console log are written to test-results/browser/<name>.* before rethrowing.
 */
export async function withPage<T>(
  browser: Browser,
  name: string,
  fn: (page: Page, context: BrowserContext) => Promise<T>,
  viewport = { width: 1200, height: 800 },
): Promise<T> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const log: string[] = [];
  const pageErrors: string[] = [];
  page.on("console", (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => pageErrors.push(e.message));
  try {
    const out = await fn(page, context);
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
    return out;
  } catch (err) {
    mkdirSync(FAILURE_DIR, { recursive: true });
    const base = join(FAILURE_DIR, slug(name));
    await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => undefined);
    writeFileSync(`${base}.html`, await page.content().catch(() => ""));
    writeFileSync(`${base}.log`, [...log, ...pageErrors.map((e) => `[pageerror] ${e}`)].join("\n"));
    throw new Error(`${(err as Error).message}\n(screenshot: ${base}.png)`, { cause: err });
  } finally {
    await context.close();
  }
}
