"""CLI start-up: `decnet --help`, `decnet topology validate` and `decnet services` against a
bare Typer app's `--help`, measured in the same run.

usage: python bench/bench_cli_startup.py [--runs 20]

Each command runs as a whole process (interpreter start-up included), interleaved with the
baseline (A B A B ...) so drift of the machine hits both alike; the ratio is taken pair by
pair and its median printed. Target (exit status 1 when missed): `decnet --help` within
1.5x of the bare Typer app.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
BARE_APP = '''
import typer
app = typer.Typer(add_completion=False)
@app.command()
def one() -> None: """One."""
@app.command()
def two() -> None: """Two."""
app()
'''
VALID_DOCUMENT = """name: bench
lans:
  - {name: dmz, subnet: 10.231.250.0/24, dmz: true}
deckies:
  - {name: web01, services: [http], lans: {dmz: null}}
"""


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from start to exit of one run (output discarded)."""
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=False)
    return time.perf_counter() - started


def measure(command: list[str], baseline: list[str], runs: int) -> tuple[float, float, float]:
    """(median seconds of command, of baseline, median pairwise ratio)."""
    wall(command)
    wall(baseline)  # warm-up, not counted
    a, b = [], []
    for _ in range(runs):
        a.append(wall(command))
        b.append(wall(baseline))
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        bare = Path(scratch) / "bare.py"
        bare.write_text(BARE_APP)
        document = Path(scratch) / "bench.yml"
        document.write_text(VALID_DOCUMENT)
        baseline = [python, str(bare), "--help"]
        cli = [python, "-m", "decnet_lib.cli"]
        cases = {
            "decnet --help": [*cli, "--help"],
            "decnet topology validate": [*cli, "topology", "validate", str(document)],
            "decnet services": [*cli, "services"],
        }
        print(f"{'command':<28}{'median s':>10}{'bare typer s':>14}{'ratio':>8}")
        help_ratio = 0.0
        for name, command in cases.items():
            seconds, base, ratio = measure(command, baseline, args.runs)
            help_ratio = ratio if name == "decnet --help" else help_ratio
            print(f"{name:<28}{seconds:>10.3f}{base:>14.3f}{ratio:>8.2f}")
    ok = help_ratio <= TARGET_RATIO
    print(f"target: decnet --help within {TARGET_RATIO}x of a bare Typer app: "
          f"{'met' if ok else 'MISSED'} ({help_ratio:.2f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
