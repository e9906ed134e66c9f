"""Benchmark: topology decode + parse + validate (JSON and YAML input) and generation.

Run: .venv/bin/python bench/bench_topology.py [--sizes 100,1000,10000,100000] [--repeat 3]

For each size n it generates a maze of about n deckies, serialises it to JSON and YAML,
then times (best of --repeat, time.perf_counter) decode_document + validate_data for each
input, and generate itself. A plain orjson.loads / yaml.load(CSafeLoader) of the same bytes
is the decode-only baseline. It prints the growth exponent between consecutive sizes, the
least-squares exponent over all sizes, and PASS/FAIL lines for the targets.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import yaml

from decnet_lib.issues import has_errors
from decnet_lib.topology.generator import (
    GeneratorParams,
    count_lans,
    dump_document,
    generate,
)
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.yaml_load import fast_path_status
from decnet_lib.validation.validate import validate_data

TARGET_N = 10_000
TARGET_SECONDS = 0.3
TARGET_EXPONENT = 1.15
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PHASES = ("json", "yaml", "generate")


@dataclass
class Row:
    """Measured seconds for one size."""

    n: int
    lans: int
    json_bytes: int
    yaml_bytes: int
    seconds: dict[str, float]
    baseline: dict[str, float]


def plan(n: int, seed: int = 7) -> GeneratorParams:
    """Parameters for a maze of about n deckies: branching 10, depth up to 3, ~5+ per LAN."""
    depth = 0
    while depth < 3 and count_lans(depth + 1, 10) * 5 <= n:
        depth += 1
    mean = n / count_lans(depth, 10)
    low, high = max(1, round(mean * 0.9)), max(1, round(mean * 1.1))
    prefix = 24
    while prefix > 8 and 2 ** (32 - prefix) - 3 < high + 10 + 20:
        prefix -= 1
    return GeneratorParams(
        name="bench", depth=depth, branching=10, deckies_min=low, deckies_max=high,
        cross_edge_p=0.1, expose_p=0.1, seed=seed, base="10.0.0.0/8", prefix=prefix,
    )


def best_of(repeat: int, func: Callable[[], Any]) -> float:
    """Smallest wall time of `repeat` calls."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def check_and_validate(raw: bytes) -> None:
    """The measured path: decode the bytes, parse the document and validate it."""
    _doc, issues = validate_data(decode_document(raw))
    if has_errors(issues):
        raise SystemExit(f"generated maze is invalid: {issues[0]}")


def measure(n: int, repeat: int) -> Row:
    """Time every phase for one size."""
    params = plan(n)
    doc = generate(params)
    json_raw = dump_document(doc, "json").encode()
    yaml_raw = dump_document(doc, "yaml").encode()
    seconds = {
        "json": best_of(repeat, lambda: check_and_validate(json_raw)),
        "yaml": best_of(repeat, lambda: check_and_validate(yaml_raw)),
        "generate": best_of(repeat, lambda: generate(params)),
    }
    baseline = {
        "json": best_of(repeat, lambda: orjson.loads(json_raw)),
        "yaml": best_of(repeat, lambda: yaml.load(yaml_raw, Loader=_LOADER)),
    }
    return Row(len(doc["deckies"]), len(doc["lans"]), len(json_raw), len(yaml_raw),
               seconds, baseline)


def exponent(n1: int, t1: float, n2: int, t2: float) -> float:
    """Growth exponent k of t ~ n**k between two sizes."""
    return math.log(t2 / t1) / math.log(n2 / n1)


def fit_exponent(rows: list[Row], phase: str) -> float:
    """Least-squares slope of log(t) against log(n)."""
    xs = [math.log(row.n) for row in rows]
    ys = [math.log(row.seconds[phase]) for row in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def print_table(rows: list[Row]) -> None:
    """The per-size table: seconds and µs per decky per phase, and the decode-only ratio."""
    print(f"{'deckies':>8} {'lans':>5} {'json KiB':>9} {'yaml KiB':>9} | "
          + " | ".join(f"{p + ' s':>10} {'µs/decky':>8}" for p in PHASES)
          + " | json/decode yaml/decode")
    for row in rows:
        cells = " | ".join(f"{row.seconds[p]:>10.4f} {row.seconds[p] / row.n * 1e6:>8.1f}"
                           for p in PHASES)
        ratios = " ".join(f"{row.seconds[p] / row.baseline[p]:>11.2f}x" for p in ("json", "yaml"))
        print(f"{row.n:>8} {row.lans:>5} {row.json_bytes / 1024:>9.0f} "
              f"{row.yaml_bytes / 1024:>9.0f} | {cells} | {ratios}")
    print("decode-only baseline (s): " + ", ".join(
        f"n={row.n}: orjson {row.baseline['json']:.4f}, CSafeLoader {row.baseline['yaml']:.4f}"
        for row in rows))


def print_growth(rows: list[Row]) -> dict[str, float]:
    """Exponents between consecutive sizes and the least-squares fit; returns the fits."""
    fits = {}
    for phase in PHASES:
        steps = [
            f"{a.n}->{b.n}: {exponent(a.n, a.seconds[phase], b.n, b.seconds[phase]):.2f}"
            for a, b in itertools.pairwise(rows)
        ]
        fits[phase] = fit_exponent(rows, phase) if len(rows) > 1 else float("nan")
        print(f"growth {phase:>8}: {', '.join(steps) or '-'}; least squares {fits[phase]:.2f}")
    return fits


def verdicts(rows: list[Row], fits: dict[str, float]) -> bool:
    """Print PASS/FAIL for the targets; True when every measured target passes."""
    ok = True
    near = min(rows, key=lambda row: abs(math.log(row.n / TARGET_N)))
    if abs(math.log(near.n / TARGET_N)) < 0.2:
        for phase in ("json", "yaml"):
            passed = near.seconds[phase] < TARGET_SECONDS
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: {near.n} deckies parsed and validated from "
                  f"{phase.upper()} in {near.seconds[phase]:.3f} s (target < {TARGET_SECONDS} s)")
    else:
        print(f"SKIP: no size near {TARGET_N} deckies measured")
    if len(rows) > 1:
        for phase in PHASES:
            passed = fits[phase] <= TARGET_EXPONENT
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: {phase} growth exponent {fits[phase]:.2f} "
                  f"(target <= {TARGET_EXPONENT}, no worse than n log n)")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000",
                        help="comma-separated decky counts")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    loader = fast_path_status()
    print(f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, "
          f"{platform.machine()}, PyYAML {loader['pyyaml']} (libyaml "
          f"{loader['libyaml_pyyaml'] or 'none'}), C YAML builder "
          f"{'in use' if loader['fast'] else 'NOT in use'} (libyaml "
          f"{loader['libyaml_c_builder'] or 'none'}), orjson {orjson.__version__}")
    if not loader["fast"]:
        print(f"WARNING: YAML figures below are PyYAML's alone: {loader['reason']}")
    rows = []
    for size in sizes:
        rows.append(measure(size, args.repeat))
        print(f"  measured n={rows[-1].n}", file=sys.stderr, flush=True)
    print_table(rows)
    fits = print_growth(rows)
    return 0 if verdicts(rows, fits) else 1


if __name__ == "__main__":
    raise SystemExit(main())
