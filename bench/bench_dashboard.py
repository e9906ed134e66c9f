"""Dashboard load: from page load to an interactive 1,000-decky maze in headless chromium.

usage: python bench/bench_dashboard.py [--runs 5] [--json]
A real bus and `decnet api serve` run on a fresh SQLite database holding the stored mazes
of bench/topologies/ (maze-1000: 40 LANs, 1017 deckies; maze-10: 3 LANs, 10 deckies, the
baseline measured in the same run). Each run opens a fresh page of the built bundle
(Debian's chromium through playwright-core) at `#/maze/NAME` and times, from navigation
start: the maze drawn (fetch, ELK layout, React Flow render) and a click on a decky answered
(its panel open). Target: the 1,000-decky maze interactive in under 2 s (median).
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


def summary(samples: list[dict[str, int]]) -> dict[str, float]:
    ready = [s["ready_ms"] for s in samples]
    interactive = [s["interactive_ms"] for s in samples]
    return {"runs": len(samples), "ready_median_ms": statistics.median(ready),
            "interactive_median_ms": statistics.median(interactive),
            "interactive_max_ms": max(interactive), "nodes_rendered": samples[-1]["nodes"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
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
            }, tmp_path / "bench.json", timeout=600)
    results = {name: summary(samples) for name, samples in raw.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'maze':<12}{'runs':>5}{'drawn (median)':>17}{'interactive (median)':>23}"
              f"{'interactive (max)':>19}{'nodes in DOM':>14}")
        for name, row in results.items():
            print(f"{name:<12}{row['runs']:>5}{row['ready_median_ms']:>14.0f} ms"
                  f"{row['interactive_median_ms']:>20.0f} ms{row['interactive_max_ms']:>16.0f} ms"
                  f"{row['nodes_rendered']:>14}")
    big = results["maze-1000"]["interactive_median_ms"]
    verdict = "meets" if big < TARGET_MS else "MISSES"
    print(f"maze-1000 interactive in {big:.0f} ms: {verdict} the {TARGET_MS} ms target",
          file=sys.stderr)
    return 0 if big < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
