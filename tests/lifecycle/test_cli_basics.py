"""rotate, purge and status without a server: --now, usage errors, an unreachable Elasticsearch."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from samplerr.cli import build_app
from samplerr.commands.lifecycle import parse_now

runner = CliRunner()


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T00:05:00Z", "2026-12-01T00:05:00"),
        ("2026-12-01T00:05:00+00:00", "2026-12-01T00:05:00"),
        ("2026-12-01", "2026-12-01T00:00:00"),
        ("2026-12-01T00:05", "2026-12-01T00:05:00"),  # no offset: UTC
        ("2026-12-01T01:05:00+01:00", "2026-12-01T00:05:00"),
        ("2026-03-29T03:30:00+02:00", "2026-03-29T01:30:00"),  # CEST, just after the DST change
        ("2026-10-25T02:30:00+01:00", "2026-10-25T01:30:00"),  # CET, the repeated hour, second time
        ("2028-02-29T23:59:59.900Z", "2028-02-29T23:59:59"),  # fractions round down
        (" 2026-12-31T23:59:59Z ", "2026-12-31T23:59:59"),
    ],
)
def test_now_reads_iso8601_in_utc(text, expected):
    assert parse_now(text) == ts(expected)


def test_now_defaults_to_the_clock():
    assert parse_now(None, clock=lambda: 1_700_000_000.75) == 1_700_000_000


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-02-30T00:00:00Z", "1700000000", ""])
def test_bad_now_is_a_usage_error(text):
    with pytest.raises(ValueError, match="--now"):
        parse_now(text)


@pytest.mark.parametrize("command", ["rotate", "purge", "status"])
def test_bad_now_exits_2_with_one_line(command):
    result = runner.invoke(build_app(), [command, "--now", "next tuesday", "--es", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "--now" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["rotate", "purge", "status"])
def test_bad_config_exits_2(command, tmp_path):
    path = tmp_path / "archives.toml"
    path.write_text('[[archives]]\ntf = "YYYY.MM.DD"\nstep = "7s"\nttl = "2d"\n', encoding="utf-8")
    result = runner.invoke(build_app(), [command, "--config", str(path)])
    assert result.exit_code == 2
    assert "archives[0].step" in result.output


@pytest.mark.parametrize("command", ["rotate", "purge", "status"])
def test_unreachable_elasticsearch_exits_1_with_one_readable_line(command):
    extra = [] if command == "status" else ["--lock-wait", "0"]
    completed = subprocess.run(
        [sys.executable, "-m", "samplerr", command, "--es", "http://127.0.0.1:9", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("samplerr: error: Elasticsearch http://127.0.0.1:9")
    assert "cannot connect" in lines[0]


def test_commands_explain_themselves():
    for command, words in (
        ("rotate", "ONE POST _aliases"),
        ("purge", "only copy"),
        ("status", "--plot"),
    ):
        result = runner.invoke(build_app(), [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert words in result.output
