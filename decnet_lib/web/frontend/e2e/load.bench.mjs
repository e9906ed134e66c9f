// Page load to an interactive maze, in headless chromium (bench/bench_dashboard.py runs it).
// Usage: node e2e/load.bench.mjs CONFIG.json  with {url, token, mazes: [name...], runs}
// Each run is a fresh page: navigation start → the maze drawn (the app marks
// `body[data-maze-ready]` once React Flow shows it) → a click on a decky answered (its panel
// open); then the whole maze fitted on screen. Prints one JSON line: {name: [{ready_ms, interactive_ms, nodes}, ...]}.
import { readFileSync } from "node:fs";
import { launch } from "./browser.mjs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await launch();
const results = {};
try {
  for (let run = 0; run < config.runs; run++) {
    for (const name of config.mazes) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      await context.addInitScript((token) => sessionStorage.setItem("mazenet.token", token),
        config.token);
      const page = await context.newPage();
      await page.goto(`${config.url}/#/maze/${encodeURIComponent(name)}`);
      await page.waitForFunction(() => document.body.dataset.mazeReady, null,
        { timeout: 60000, polling: 10 });
      const ready = Number(await page.evaluate(() => document.body.dataset.mazeReady));
      const decky = page.locator(".react-flow__node-decky").first();
      await decky.click();
      await page.getByTestId("decky-panel").waitFor({ timeout: 30000 });
      const interactive = await page.evaluate(() => performance.now());
      const nodes = await page.locator(".react-flow__node").count();
      const marks = await page.evaluate(() => Object.fromEntries(
        performance.getEntriesByType("mark").map((m) => [m.name, Math.round(m.startTime)])));
      const shot = run === 0 && config.screenshots?.[name];
      if (shot) await page.screenshot({ path: shot });
      // then the whole maze on screen at once (every node drawn, as bare cards when small)
      const fitStarted = await page.evaluate(() => performance.now());
      await page.locator(".react-flow__controls-fitview").click();
      // done when the drawn nodes and the zoom have stayed the same for 3 frames
      const fitDone = await page.evaluate(() => new Promise((resolve) => {
        let last = "";
        let still = 0;
        const tick = () => {
          const transform = document.querySelector(".react-flow__viewport")?.style.transform;
          const now = `${document.querySelectorAll(".react-flow__node").length}|${transform}`;
          still = now === last ? still + 1 : 0;
          last = now;
          if (still >= 3) resolve(performance.now());
          else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }));
      const nodesAll = await page.locator(".react-flow__node").count();
      if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "-all.png") });
      (results[name] ??= []).push({ ready_ms: ready, interactive_ms: Math.round(interactive),
        nodes, marks,
        fit_all_ms: Math.round(fitDone - fitStarted), nodes_all: nodesAll });
      await context.close();
    }
  }
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
