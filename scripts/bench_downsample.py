"""`scripts/bench downsample`: samplerr downsample end to end next to a straightforward pandas version.

Both run as separate processes on the same workload file (bench-data/events.jsonl, 1.44 M events)
with the shipped archives.toml (20 s / 10 min / 1 h, avg/min/max), each writing bulk NDJSON; the
figures are medians of --runs runs of wall time, with each process's CPU time and peak RSS (from
wait4). The outputs are then compared document by document (same ids, indices, fields; values equal
to 1e-9 relative: pandas writes at most 15 significant digits).

Run the pandas implementation alone with:
    .venv/bin/python scripts/bench_downsample.py pandas IN.jsonl OUT.ndjson
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARCHIVES_TOML = ROOT / "archives.toml"
# (strftime of the index suffix, step) — the shipped archives.toml
PANDAS_ARCHIVES = (("%Y.%m.%d", 20), ("%Y.%m", 600), ("%Y", 3600))
CFUNCS = (("avg", "mean"), ("min", "min"), ("max", "max"))
TARGET_EVENTS_PER_S = 300_000
TARGET_RATIO = 3.0

Report = dict[str, Any]


def pandas_downsample(source: Path, target: Path, index_prefix: str = ".samplerr-") -> None:
    """Read the JSON lines, group by series and floored time per archive, write the same documents."""
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    from samplerr.core.documents import series_hash

    df = pd.read_json(source, lines=True, dtype={"host": str, "service": str, "metric": float})
    series = df[["host", "service"]].drop_duplicates()
    series["hash"] = [
        series_hash((("host", h), ("service", s)))
        for h, s in zip(series["host"], series["service"], strict=True)
    ]
    df = df.merge(series, on=["host", "service"])
    seconds = df["time"].astype("float64")
    with target.open("w", encoding="utf-8") as out:
        for fmt, step in PANDAS_ARCHIVES:
            df["w"] = (seconds // step).astype("int64") * step
            g = df.groupby(["hash", "host", "service", "w"], sort=False)["metric"]
            agg = g.agg(["mean", "min", "max"]).reset_index()
            stamp = pd.to_datetime(agg["w"], unit="s", utc=True)
            index = index_prefix + stamp.dt.strftime(fmt)
            iso = stamp.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            for cfunc, column in CFUNCS:
                ids = agg["hash"] + f".{step}.{cfunc}." + agg["w"].astype(str)
                actions = '{"index":{"_id":"' + ids + '","_index":"' + index + '"}}'
                docs = pd.DataFrame(
                    {
                        "@timestamp": iso,
                        "cfunc": cfunc,
                        "step": step,
                        "host": agg["host"],
                        "service": agg["service"],
                        "metric": agg[column],
                    }
                ).to_json(orient="records", lines=True, double_precision=15)
                for action, doc in zip(actions, docs.splitlines(), strict=True):
                    out.write(action)
                    out.write("\n")
                    out.write(doc)
                    out.write("\n")


def run_process(argv: list[str]) -> tuple[float, float, float]:
    """Run ``argv``; return wall seconds, CPU seconds (user+sys) and peak RSS MiB of the child."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def read_bulk(path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    import orjson

    docs: dict[str, tuple[str, dict[str, Any]]] = {}
    with path.open("rb") as inp:
        for action_line in inp:
            action = orjson.loads(action_line)["index"]
            docs[action["_id"]] = (action["_index"], orjson.loads(next(inp)))
    return docs


def compare(samplerr_out: Path, pandas_out: Path) -> Report:
    """Document-by-document comparison; values to 1e-9 relative."""
    ours, theirs = read_bulk(samplerr_out), read_bulk(pandas_out)
    missing = theirs.keys() - ours.keys()
    extra = ours.keys() - theirs.keys()
    differing = 0
    for doc_id in ours.keys() & theirs.keys():
        (i1, d1), (i2, d2) = ours[doc_id], theirs[doc_id]
        m1, m2 = d1.pop("metric"), d2.pop("metric")
        if i1 != i2 or d1 != d2 or not math.isclose(m1, m2, rel_tol=1e-9, abs_tol=1e-9):
            differing += 1
    return {
        "documents": len(ours),
        "missing": len(missing),
        "extra": len(extra),
        "differing": differing,
        "equal": not (missing or extra or differing),
    }


def run_downsample_bench(args: argparse.Namespace) -> Report:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_workload import DEFAULT_PATH, ensure_events_file

    source = Path(args.events) if args.events else ensure_events_file(DEFAULT_PATH)
    events = sum(1 for _ in source.open("rb"))
    python = str(ROOT / ".venv" / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="samplerr-bench-") as tmp:
        ours_out, pandas_out = Path(tmp) / "samplerr.ndjson", Path(tmp) / "pandas.ndjson"
        samplerr_argv = [
            python, "-m", "samplerr", "downsample", "--config", str(ARCHIVES_TOML),
            "--input", str(source), "--output", str(ours_out),
        ]  # fmt: skip
        pandas_argv = [python, str(Path(__file__).resolve()), "pandas", str(source), str(pandas_out)]
        ours = [run_process(samplerr_argv) for _ in range(args.runs)]
        theirs = [run_process(pandas_argv) for _ in range(args.runs)]
        check = compare(ours_out, pandas_out)
    ours_wall = statistics.median(r[0] for r in ours)
    theirs_wall = statistics.median(r[0] for r in theirs)
    report: Report = {
        "workload": {"path": str(source), "events": events},
        "samplerr": {
            "events_per_s": events / ours_wall,
            "wall_s": [r[0] for r in ours],
            "cpu_s": [r[1] for r in ours],
            "peak_rss_mib": max(r[2] for r in ours),
            "target_events_per_s": TARGET_EVENTS_PER_S,
        },
        "pandas": {
            "events_per_s": events / theirs_wall,
            "wall_s": [r[0] for r in theirs],
            "cpu_s": [r[1] for r in theirs],
            "peak_rss_mib": max(r[2] for r in theirs),
        },
        "ratio": theirs_wall / ours_wall,
        "target_ratio": TARGET_RATIO,
        "outputs": check,
        "runs": args.runs,
    }
    if not args.json:
        print_downsample(report)
    return report


def print_downsample(report: Report) -> None:
    ours, theirs, out = report["samplerr"], report["pandas"], report["outputs"]
    print(
        f"downsample end to end: {report['workload']['events']:,} events (file -> bulk NDJSON), "
        f"medians of {report['runs']} runs"
    )
    print(
        f"  samplerr downsample  {ours['events_per_s'] / 1e3:8.0f} k events/s  "
        f"cpu {statistics.median(ours['cpu_s']):.2f} s  peak RSS {ours['peak_rss_mib']:.0f} MiB  "
        f"(target >= {TARGET_EVENTS_PER_S / 1e3:.0f} k)"
    )
    print(
        f"  pandas               {theirs['events_per_s'] / 1e3:8.0f} k events/s  "
        f"cpu {statistics.median(theirs['cpu_s']):.2f} s  peak RSS {theirs['peak_rss_mib']:.0f} MiB"
    )
    print(f"  ratio samplerr/pandas {report['ratio']:.2f}x (target >= {TARGET_RATIO:.0f}x)")
    verdict = "equal" if out["equal"] else "DIFFERENT"
    print(
        f"  outputs {verdict}: {out['documents']:,} documents; missing {out['missing']}, "
        f"extra {out['extra']}, differing {out['differing']}"
    )


def add_downsample(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser(
        "downsample",
        parents=[common],
        help="samplerr downsample end to end vs a pandas implementation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run_downsample_bench)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "pandas":
        pandas_downsample(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
