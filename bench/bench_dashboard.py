"""Dashboard load: from page load to an interactive 1,000-decky maze in headless chromium.

usage: python bench/bench_dashboard.py [--runs 5] [--json] [--screenshots DIR]
A real bus and `decnet api serve` run on a fresh SQLite database holding the stored mazes
of bench/topologies/ (maze-1000: 40 LANs, 1017 deckies; maze-10: 3 LANs, 10 deckies, the
baseline measured in the same run). Each run opens a fresh page of the built bundle
(Debian's chromium through playwright-core) at `#/maze/NAME` and times, from navigation
start: the maze drawn (fetch, ELK layout, React Flow render) and a click on a decky answered
(its panel open); then the time to show the whole maze at once (the fit-view button: every
node drawn). Target: the 1,000-decky maze interactive in under 2 s (median).
Needs the bundle built (scripts/lib/web.sh) and chromium (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))  # the real API and browser helpers

from api_server import DECNET, running_api  # noqa: E402
from browser_support import missing_browser_parts, run_node_script  # noqa: E402

MAZES = {"maze-10": REPO / "bench/topologies/maze-10.yml",
         "maze-1000": REPO / "bench/topologies/maze-1000.yml"}
TARGET_MS = 2000


PHASES = (("app-start", "script"), ("maze-fetched", "fetched"), ("maze-laid-out", "laid out"))


def summary(samples: list[dict]) -> dict[str, float]:
    """Medians (ms from navigation start) of each phase, drawn and interactive."""
    ready = [s["ready_ms"] for s in samples]
    interactive = [s["interactive_ms"] for s in samples]
    phases = {label: statistics.median(s["marks"].get(mark, 0) for s in samples)
              for mark, label in PHASES}
    return {"runs": len(samples), **phases, "drawn": statistics.median(ready),
            "interactive": statistics.median(interactive),
            "interactive_max": max(interactive), "nodes_in_dom": samples[-1]["nodes"],
            "fit_all": statistics.median(s["fit_all_ms"] for s in samples),
            "nodes_all": samples[-1]["nodes_all"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="Also save each maze's first view as DIR/dashboard-NAME.png.")
    args = parser.parse_args()
    if missing := missing_browser_parts():
        print("missing: " + ", ".join(missing), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        tmp_path = Path(tmp)
        with running_api(tmp_path, f"sqlite:///{tmp_path / 'master.db'}") as api:
            for path in MAZES.values():
                subprocess.run([*DECNET, "topology", "create", str(path)], cwd=REPO,
                               env=api.env, check=True, capture_output=True)
            raw = run_node_script("load.bench.mjs", {
                "url": api.url, "token": api.tokens["viewer"], "mazes": list(MAZES),
                "runs": args.runs,
                "screenshots": {name: str(args.screenshots.resolve() / f"dashboard-{name}.png")
                                for name in MAZES} if args.screenshots else {},
            }, tmp_path / "bench.json", timeout=600)
    results = {name: summary(samples) for name, samples in raw.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        columns = ["runs", *(label for _, label in PHASES), "drawn", "interactive",
                   "interactive_max", "nodes_in_dom", "fit_all", "nodes_all"]
        print("medians in ms from navigation start (fit_all: ms from the click)")
        print(f"{'maze':<11}" + "".join(f"{c:>16}" for c in columns))
        for name, row in results.items():
            print(f"{name:<11}" + "".join(f"{row[c]:>16.0f}" for c in columns))
    big = results["maze-1000"]["interactive"]
    verdict = "meets" if big < TARGET_MS else "MISSES"
    print(f"maze-1000 interactive in {big:.0f} ms: {verdict} the {TARGET_MS} ms target",
          file=sys.stderr)
    return 0 if big < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
