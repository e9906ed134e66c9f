// A maze walked through a foothold, as the dashboard draws it (tests/integration/test_dashboard_e2e.py).
// Usage: node e2e/walk.e2e.mjs CONFIG.json  with {url, token, topology, attacker, screenshot}
// Opens the maze signed in and reads what it shows of the attacker: the path decky by decky
// and LAN by LAN, the credentials and the commands. Prints one JSON line.
import { readFileSync } from "node:fs";
import { launch } from "./browser.mjs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript((token) => sessionStorage.setItem("mazenet.token", token),
    config.token);
  const page = await context.newPage();
  await page.goto(`${config.url}/#/maze/${encodeURIComponent(config.topology)}`);
  await page.getByRole("button", { name: new RegExp(`^${config.attacker.replaceAll(".", "\\.")} `) })
    .click({ timeout: 15000 });
  const detail = page.getByTestId("attacker-detail");
  await detail.waitFor();
  const hops = await page.locator(".react-flow__edge.attack-path .react-flow__edge-text")
    .allTextContents();
  const touched = await page.locator(".decky.decky-touched").evaluateAll(
    (cards) => cards.map((card) => card.dataset.decky));
  const onPath = await page.locator(".lan.lan-on-path").evaluateAll(
    (areas) => areas.map((area) => area.dataset.lan));
  await page.screenshot({ path: config.screenshot });
  console.log(JSON.stringify({
    path: await detail.locator("p").first().textContent(),
    credentials: await detail.locator(".credentials li").allTextContents(),
    commands: await detail.locator(".commands li").allTextContents(),
    hops, touched: touched.sort(), on_path: onPath.sort(),
  }));
} finally {
  await browser.close();
}
