"""``samplerr check``: a table or JSON of the archives and their footprint; one-line errors, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samplerr.cli import build_app
from samplerr.commands.check import archive_footprint
from samplerr.core.config import Archive
from samplerr.core.durations import parse_duration
from samplerr.core.periods import parse_tf

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "archives.toml"
DAY = 86_400

# The shipped synopsis, worked by hand: kept span = longest ttl + longest period.
#   20 s, 2 d, daily indices:       (2 d + 1 d) / 20 s            = 12,960 windows
#   10 min, 2 months, monthly:      (62 d + 31 d) / 10 min        = 13,392 windows
#   1 h, 10 years, yearly:          (3,653 d + 366 d) / 1 h       = 96,456 windows
SHIPPED_WINDOWS = [3 * DAY // 20, 93 * DAY // 600, (3653 + 366) * 24]


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(build_app(), ["check", *args], env=env)


def test_table_of_the_shipped_archives():
    result = run("--config", str(SHIPPED))
    assert result.exit_code == 0, result.output
    for text in ("YYYY.MM.DD", "YYYY.MM", "YYYY", "day", "month", "year", "20s", "10m", "1h", "2mo", "10y"):
        assert text in result.stdout
    assert f"{SHIPPED_WINDOWS[0] * 3:,}" in result.stdout
    assert f"{sum(SHIPPED_WINDOWS) * 3:,}" in result.stdout  # the total line


def test_json_of_the_shipped_archives():
    result = run("--config", str(SHIPPED), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["layout"], report["index_prefix"], report["alias_prefix"]) == (
        "samplerr",
        ".samplerr-",
        "samplerr-",
    )
    assert [(a["tf"], a["unit"], a["step_seconds"], a["ttl"]) for a in report["archives"]] == [
        ("YYYY.MM.DD", "day", 20, "2d"),
        ("YYYY.MM", "month", 600, "2mo"),
        ("YYYY", "year", 3600, "10y"),
    ]
    assert all(a["cfuncs"] == ["avg", "min", "max"] for a in report["archives"])
    assert [a["windows_per_series"] for a in report["archives"]] == SHIPPED_WINDOWS
    assert [a["docs_per_series"] for a in report["archives"]] == [3 * w for w in SHIPPED_WINDOWS]
    assert report["docs_per_series"] == 3 * sum(SHIPPED_WINDOWS)


def test_compact_layout_keeps_one_document_per_window(tmp_path):
    path = tmp_path / "compact.toml"
    path.write_text(SHIPPED.read_text(encoding="utf-8").replace('layout = "samplerr"', 'layout = "compact"'))
    report = json.loads(run("--config", str(path), "--json").stdout)
    assert report["layout"] == "compact"
    assert [a["docs_per_series"] for a in report["archives"]] == SHIPPED_WINDOWS


@pytest.mark.parametrize(
    ("tf", "step", "ttl", "windows"),
    [
        ("YYYY.MM.DD.HH", "10s", "12h", (12 + 1) * 360),
        ("GGGG.WW", "5m", "4w", (28 + 7) * 288),
        ("YYYY.MM.DD", "7200s", "1d", 24),
        ("YYYY.MM.DD", "1h", "36h", 60),  # (36 h + 24 h) / 1 h
        ("YYYY.MM.DD", "7h", "1d", 7),  # not a valid step, but the arithmetic rounds up: ceil(48 h / 7 h)
    ],
)
def test_footprint_arithmetic(tf, step, ttl, windows):
    archive = Archive(parse_tf(tf), parse_duration(step).seconds, parse_duration(ttl), ("min", "max"))
    footprint = archive_footprint(4, archive, "samplerr")
    expected = windows or 7  # ceil(48 h / 7 h) = 7
    assert (footprint.number, footprint.windows_per_series, footprint.docs_per_series) == (
        4,
        expected,
        2 * expected,
    )
    assert archive_footprint(4, archive, "compact").docs_per_series == expected


BROKEN = SHIPPED.read_text(encoding="utf-8").replace('step = "10m"', 'step = "15s"')


def test_a_config_error_is_one_line_on_stderr_and_exit_2(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN, encoding="utf-8")
    result = run("--config", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"samplerr: error: {path}: archives[1].step: 15s must be a multiple of archives[0].step (20s) "
        "and larger; archives go finest first: each step a multiple of the one before, each ttl longer"
    ]


def test_a_missing_file(tmp_path):
    result = run("--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert result.stderr == f"samplerr: error: {tmp_path / 'nope.toml'}: no such file\n"


def test_an_environment_error_names_the_variable():
    result = run("--config", str(SHIPPED), env={"SAMPLERR_CONSOLIDATION_LATENESS": "1M"})
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "samplerr: error: environment: SAMPLERR_CONSOLIDATION_LATENESS: '1M' is ambiguous"
    )


def test_the_installed_command_on_a_broken_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN.replace('cfuncs = ["avg", "min", "max"]', 'cfuncs = ["avg", "mean"]', 1))
    samplerr = Path(sys.executable).parent / "samplerr"
    done = subprocess.run(
        [str(samplerr), "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"samplerr: error: {path}: archives[0].cfuncs[1]: unknown cfunc 'mean'; "
        "valid: avg, min, max, sum, count, first, last\n"
    )
