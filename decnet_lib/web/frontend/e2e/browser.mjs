// Headless Debian chromium through playwright-core (no browser download).
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** Opens the dashboard signed in (the token goes where the login form puts it). */
export async function signedInPage(browser, url, token, viewport = { width: 1440, height: 900 }) {
  const page = await browser.newPage({ viewport });
  await page.addInitScript((value) => sessionStorage.setItem("mazenet.token", value), token);
  return page;
}
