"""`samplerr downsample` end to end: file in, bulk NDJSON out, equal to a direct computation."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "events.jsonl.gz"
ARCHIVES = ((".samplerr-", "%Y.%m.%d", 20), (".samplerr-", "%Y.%m", 600), (".samplerr-", "%Y", 3600))


def run_samplerr(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "samplerr", *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def reference(lines: list[bytes]) -> dict[tuple[str, str, str, int, str], float]:
    """Direct computation from raw events: (index, host, service, window start, cfunc) -> value."""
    groups: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    for line in lines:
        try:
            event = json.loads(line)
            value = float(event["metric"])
            when = float(event["time"])
        except (ValueError, KeyError, TypeError):
            continue
        if not math.isfinite(value) or not 946_684_800 <= when < 4_102_444_800:
            continue
        for prefix, fmt, step in ARCHIVES:
            start = int(when // step) * step
            index = prefix + datetime.fromtimestamp(start, UTC).strftime(fmt)
            groups[(index, event["host"], event["service"], start)].append(value)
    out: dict[tuple[str, str, str, int, str], float] = {}
    for (index, host, service, start), values in groups.items():
        out[(index, host, service, start, "avg")] = math.fsum(values) / len(values)
        out[(index, host, service, start, "min")] = min(values)
        out[(index, host, service, start, "max")] = max(values)
    return out


def parse_bulk(body: bytes) -> dict[str, tuple[str, dict[str, object]]]:
    """Last document written per _id (a re-emitted late window overwrites its earlier version)."""
    lines = body.splitlines()
    assert len(lines) % 2 == 0
    docs: dict[str, tuple[str, dict[str, object]]] = {}
    for action_line, doc_line in zip(lines[::2], lines[1::2], strict=True):
        action = json.loads(action_line)["index"]
        docs[action["_id"]] = (action["_index"], json.loads(doc_line))
    return docs


def test_downsample_equals_direct_computation(tmp_path: Path) -> None:
    out = tmp_path / "bulk.ndjson"
    result = run_samplerr(
        "downsample",
        "--config",
        str(ROOT / "archives.toml"),
        "--input",
        str(SAMPLE),
        "--output",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stderr.decode().strip().splitlines()[-1])
    docs = parse_bulk(out.read_bytes())
    got = {}
    for index, doc in docs.values():
        start = int(datetime.fromisoformat(str(doc["@timestamp"])).timestamp())
        got[(index, doc["host"], doc["service"], start, doc["cfunc"])] = doc["metric"]
        assert doc["step"] in (20, 600, 3600)
    expected = reference(gzip.decompress(SAMPLE.read_bytes()).splitlines())
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert summary["events"] == 12960
    assert summary["rejected_total"] == 5
    assert summary["late_dropped"] == 0
    assert summary["documents_total"] >= len(docs)


def test_downsample_reads_stdin_and_counts_bad_lines() -> None:
    lines = b"\n".join(
        [
            b'{"host":"a","service":"s","metric":1.5,"time":1795305600}',
            b'{"host":"a","service":"s","metric":2.5,"time":1795305605}',
            b"\xff\xfe not utf-8",
            b'{"host":"a","service":"s","metric":1e999,"time":1795305605}',
            b'{"host":"a","service":"s","time":1795305605}',
            b'{"host":"a","service":"s","metric":1,"time":32503680000000}',
        ]
    )
    result = run_samplerr("downsample", "--config", str(ROOT / "archives.toml"), "--json", stdin=lines)
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stderr.decode().strip().splitlines()[-1])
    assert summary["events"] == 2
    assert summary["rejected_total"] == 4
    docs = parse_bulk(result.stdout)
    averages = {idx: doc["metric"] for idx, doc in docs.values() if doc["cfunc"] == "avg"}
    assert averages == {".samplerr-2026.11.22": 2.0, ".samplerr-2026.11": 2.0, ".samplerr-2026": 2.0}


def test_downsample_config_error_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[archives]]\ntf = "YYYY.MM.DD"\nstep = "7s"\nttl = "2d"\ncfuncs = ["avg"]\n')
    result = run_samplerr("downsample", "--config", str(bad), "--input", str(SAMPLE), "--output", "/dev/null")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "Traceback" not in err
    assert str(bad) in err and "archives[0].step" in err


def test_downsample_missing_input_is_a_failure_not_a_traceback(tmp_path: Path) -> None:
    result = run_samplerr(
        "downsample", "--config", str(ROOT / "archives.toml"), "--input", str(tmp_path / "nope.jsonl")
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr.decode()
    assert "nope.jsonl" in result.stderr.decode()


BAD_AND_GOOD = [
    b'{"host":"a","service":"s","metric":1.5,"time":1795305600}',
    b"\xff\xfe not utf-8",
    b'{"host":"a","service":"s","metric":1e999,"time":1795305605}',
    b"",
    b'{"host":"a","service":"s","time":1795305605}',
    b'{"host":"a","service":"s","metric":2.5,"time":1795305605}',
    b'{"host":"a","service":"s","metric":1,"time":32503680000000}',
]


def test_downsample_appends_each_rejected_line_to_the_dead_letter_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(BAD_AND_GOOD) + b"\n")
    dead = tmp_path / "dead.jsonl"
    dead.write_bytes(b'{"earlier": "run"}\n')  # appended to, never truncated
    args = ["downsample", "--config", str(ROOT / "archives.toml"), "--input", str(source)]
    result = run_samplerr(*args, "--output", "/dev/null", "--dead-letter-file", str(dead), "--json")
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stderr.decode().strip().splitlines()[-1])
    assert summary["events"] == 2
    assert summary["dead_letters"] == {
        "no_value": 1,
        "not_finite": 1,
        "not_parseable": 1,
        "time_out_of_range": 1,
    }
    assert summary["dead_letters_lost"] == {}
    records = [json.loads(line) for line in dead.read_bytes().splitlines()]
    assert records[0] == {"earlier": "run"}
    assert [(r["reason"], r["line_number"], r["source"]) for r in records[1:]] == [
        ("not_parseable", 2, str(source)),
        ("not_finite", 3, str(source)),
        ("no_value", 5, str(source)),
        ("time_out_of_range", 7, str(source)),
    ]
    assert records[2]["line"] == BAD_AND_GOOD[2].decode()
    assert records[1]["line"] == "\\xff\\xfe not utf-8"


def test_downsample_fails_when_rejected_lines_cannot_be_written() -> None:
    args = ["downsample", "--config", str(ROOT / "archives.toml"), "--dead-letter-file", "/dev/full"]
    result = run_samplerr(*args, stdin=b"\n".join(BAD_AND_GOOD))
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "Traceback" not in err
    assert "4 rejected lines could not be appended" in err and "/dev/full" in err
    assert len(parse_bulk(result.stdout)) > 0  # the valid events were still consolidated
