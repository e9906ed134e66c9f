// The dashboard in a real browser against a real API and a real deployed maze.
// Usage: node e2e/dashboard.e2e.mjs CONFIG.json   (written by tests/integration/test_dashboard_e2e.py)
// Steps: log in through the form, see the maze, drag an archetype onto the office LAN and
// wait until its container runs in Docker, add a service to a decky in its panel and wait for
// that container too, attack a decky with a real client and see it
// light up within 2 s. Prints one JSON line of results; exits non-zero on any failure.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { launch } from "./browser.mjs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const result = {};
const sh = (argv) => execFileSync(argv[0], argv.slice(1), { encoding: "utf8" });

async function until(what, check, timeoutMs, stepMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));

  // log in through the form
  await page.goto(config.url);
  await page.getByLabel("API token").fill("not-a-token");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: "not valid" }).waitFor({ timeout: 10000 });
  await page.getByLabel("API token").fill(config.token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId(`topology-${config.topology}`).click();
  await page.getByTestId("stream-state").filter({ hasText: "live" }).waitFor({ timeout: 10000 });

  // the maze: both LANs, the bridge between them, services on each decky
  for (const lan of ["dmz", "office"]) await page.getByTestId(`lan-${lan}`).waitFor();
  await page.locator('[data-testid="decky-gw"].decky-bridge').waitFor();
  await page.locator('[data-testid="decky-ws"] .svc', { hasText: "redis" }).waitFor();
  result.status = await page.getByTestId("maze-status").textContent();
  await page.screenshot({ path: config.screenshots.maze });

  // drag an archetype from the palette onto the office LAN
  const office = page.getByTestId("lan-office");
  const box = await office.boundingBox();
  await page.getByTestId(`archetype-${config.archetype}`).dragTo(office, {
    targetPosition: { x: 12, y: box.height - 8 },
  });
  const added = `${config.archetype}-1`;
  await page.getByTestId(`decky-${added}`).waitFor({ timeout: 60000 });
  // the mutation's progress came over the stream
  result.mutation = await page.getByTestId("mutation-state").filter({ hasText: "applied" })
    .textContent({ timeout: 30000 });
  await until(`${added} running in Docker`, () => {
    const names = sh([...config.docker_ps, "--filter", `label=decnet.decky=${added}`,
      "--filter", "status=running", "--format", "{{.Names}}"]);
    return names.trim().length > 0;
  }, 60000, 500);
  result.added = added;

  // change a decky's services in its panel (PATCH: an update_decky mutation on a live maze)
  await page.getByTestId("decky-ws").click();
  const panel = page.getByTestId("decky-panel");
  await panel.getByLabel("ftp", { exact: true }).check();
  await panel.getByRole("button", { name: "Save services" }).click();
  await page.locator('[data-testid="decky-ws"] .svc', { hasText: "ftp" }).waitFor({ timeout: 60000 });
  await until("ws's ftp running in Docker", () => sh([...config.docker_ps,
    "--filter", "label=decnet.decky=ws", "--filter", "label=decnet.service=ftp",
    "--filter", "status=running", "--format", "{{.Names}}"]).trim().length > 0, 60000, 500);
  result.services_changed = true;

  // an attack by a real client: the decky lights up within 2 s
  const hot = page.locator(`[data-testid="decky-${config.attack_decky}"][data-hot="true"]`);
  const started = Date.now();
  sh(config.attack);
  await hot.waitFor({ timeout: 2000 });
  result.attack_seen_ms = Date.now() - started;
  await page.getByTestId("event-list").locator(`li[data-decky="${config.attack_decky}"]`)
    .first().waitFor({ timeout: 2000 });
  await page.getByTestId("attacker-detail").waitFor({ timeout: 5000 });
  await page.screenshot({ path: config.screenshots.attack });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
