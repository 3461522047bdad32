"""``samplerr rotate``, ``samplerr purge`` and ``samplerr status``: the lifecycle from the command line.

Each command reads the indices and aliases, asks the planner what to do at ``--now`` (default: the
wall clock) and, unless ``--dry-run``, applies it under the lifecycle lock. The behaviour lives in
:mod:`samplerr.lifecycle_ops`; this module parses options and prints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from samplerr.adapters.es_connection import EsConnection
from samplerr.commands.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    EsOption,
    JsonOption,
    config_with_es_or_exit,
    fail,
)
from samplerr.core.config import Config
from samplerr.core.errors import SinkError
from samplerr.core.lifecycle import summary
from samplerr.core.lifecycle_spans import END_OF_TIME, MIN_EPOCH, iso
from samplerr.lifecycle_ops import LOCK_WAIT_S, PurgeResult, RotateResult, plan_for, purge, read_state, rotate
from samplerr.lifecycle_report import StatusReport, purge_json, rotate_counts, status_report
from samplerr.plot import TERMINAL_COLOURS, stretches, svg_timeline, terminal_timeline

T = TypeVar("T")

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="ISO8601",
        help="Plan as if it were this instant, e.g. 2026-12-01T00:05:00Z or 2026-12-01 (UTC unless an offset "
        "is given). For tests and what-if questions; default: the current time.",
        show_default=False,
    ),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would be done and change nothing.")]
LockWaitOption = Annotated[
    float,
    typer.Option(
        "--lock-wait",
        metavar="SECONDS",
        min=0.0,
        help="How long to wait for another rotate or purge (another host, the service) to finish.",
    ),
]

EXIT_STATUS_HELP = (
    "Exit status: 0 done, 1 Elasticsearch unreachable or refusing (or the lifecycle lock stayed busy), "
    "2 invalid configuration or options."
)
ROTATE_HELP = "\n\n".join(
    [
        "Point the aliases at the finest data kept.",
        "For every archive and each of its periods from the oldest kept data to now, the alias "
        "alias_prefix + tf(period) targets the index that serves that period best: the finest archive's "
        "unexpired index, filtered on @timestamp to exactly the part it serves. The difference with the "
        "current aliases is sent as ONE POST _aliases request, which Elasticsearch applies atomically. "
        "Running it again changes nothing.",
        "--dry-run --json prints exactly that request body and changes nothing.",
        EXIT_STATUS_HELP,
    ]
)
PURGE_HELP = "\n\n".join(
    [
        "Rotate, then delete the indices the retention policy no longer keeps.",
        "An index is deleted when its period ended more than ttl ago (period end + ttl at or before now), "
        "no alias targets it after the rotation, and no kept archive still needs its data (it is never the "
        "only copy of data some archive keeps; its data lies between its first and last @timestamp, read "
        "from Elasticsearch, or anywhere in its period when they cannot be read). Current and future "
        "periods, unexpired indices and names "
        "that are not an archive's are never deleted. --dry-run lists every index with delete or keep and "
        "the reason.",
        EXIT_STATUS_HELP,
    ]
)
STATUS_HELP = "\n\n".join(
    [
        "Show the archives' indices, what serves each stretch of time, and what rotate and purge would do.",
        "Per archive: each index with its period, documents, size, expiry and what purge decides; the "
        "indices under the prefix that no archive names; and a timeline from the oldest data to now of "
        "which archive serves each stretch (--plot FILE.svg draws it).",
        EXIT_STATUS_HELP,
    ]
)


def parse_now(text: str | None, clock: Callable[[], float] = time.time) -> int:
    """``--now`` as UTC epoch seconds: ISO 8601, UTC unless an offset is given; ``None`` is ``clock()``.

    Raises ``ValueError`` with a readable message.
    """
    if text is None:
        return math.floor(clock())
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"--now: {text!r} is not an ISO 8601 date or time, e.g. 2026-12-01T00:05:00Z"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = math.floor(moment.timestamp())
    if not MIN_EPOCH <= epoch < END_OF_TIME:
        raise ValueError(f"--now: {text!r} is outside the years 0001-9999")
    return epoch


def _setup(config_path: Path | None, es: list[str] | None, now_text: str | None) -> tuple[Config, int]:
    config = config_with_es_or_exit(config_path, es)
    try:
        now = parse_now(now_text)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    return config, now


def _with_connection(config: Config, work: Callable[[EsConnection], T]) -> T:
    """Run ``work`` on a connection; Elasticsearch failures exit 1 with one readable line."""
    try:
        with EsConnection(config.elasticsearch) as connection:
            return work(connection)
    except SinkError as exc:
        fail(str(exc), EXIT_FAILURE)


def _json(value: object) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _warn_problems(problems: tuple[str, ...], err: Console) -> None:
    for problem in problems:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)


def _short(epoch: int) -> str:
    text = iso(epoch)
    return text[:10] if text.endswith("T00:00:00Z") else text[:16].replace("T", " ")


# --- rotate ----------------------------------------------------------------------------------------


def print_rotation(result: RotateResult, console: Console, *, show_all: bool) -> None:
    counts = rotate_counts(result)
    rows = [row for row in summary(result.plan) if show_all or row.change != "keep"]
    verb = "would change" if result.dry_run else "changed"
    if rows:
        table = Table(title=f"aliases at {iso(result.plan.now)}")
        table.add_column("alias")
        table.add_column("index")
        table.add_column("range served")
        table.add_column("change")
        styles = {"add": "green", "remove": "red", "keep": "dim"}
        for row in rows:
            table.add_row(row.alias, row.index, row.range, f"[{styles[row.change]}]{row.change}[/]")
        console.print(table)
    if not result.plan.actions:
        console.print(f"aliases up to date: nothing to do ({counts.unchanged} alias targets unchanged)")
        return
    console.print(
        f"{verb}: {counts.added} alias targets added, {counts.removed} removed, {counts.changed} with a new "
        f"filter, {counts.unchanged} unchanged; {len(result.plan.actions)} actions in one POST _aliases"
        + (" (dry run: nothing was sent)" if result.dry_run else "")
    )


# --- purge -----------------------------------------------------------------------------------------


def print_purge(result: PurgeResult, console: Console) -> None:
    rotation = result.rotation
    if rotation.plan.actions:
        action = "would send" if result.dry_run else "sent"
        console.print(
            f"rotate first: {action} {len(rotation.plan.actions)} alias actions in one POST _aliases"
        )
    table = Table(title=f"indices under the prefix at {iso(rotation.plan.now)}")
    table.add_column("index")
    table.add_column("decision")
    table.add_column("reason")
    table.add_column("detail")
    rows = [(d.index, "[red]delete[/]", d.reason, d.detail) for d in result.deleted]
    rows += [(d.index, "keep", d.reason, d.detail) for d in result.kept]
    for row in sorted(rows):
        table.add_row(*row)
    if rows:
        console.print(table)
    verb = "would delete" if result.dry_run else "deleted"
    console.print(f"{verb} {len(result.deleted)} indices, kept {len(result.kept)}")


# --- status ----------------------------------------------------------------------------------------


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def print_status(report: StatusReport, console: Console) -> None:
    console.print(
        f"samplerr at {iso(report.now)}: indices {report.index_prefix}*, aliases {report.alias_prefix}*",
        highlight=False,
    )
    for archive in report.archives:
        colour = TERMINAL_COLOURS[archive.number % len(TERMINAL_COLOURS)]
        table = Table(
            title=f"[{colour}]archive {archive.number}[/]: {archive.tf}, step {archive.step_seconds}s, "
            f"ttl {archive.ttl} — {len(archive.indices)} indices, {archive.docs:,} docs, "
            f"{_size(archive.size_bytes)}",
            title_justify="left",
        )
        table.add_column("index")
        table.add_column("period")
        table.add_column("docs", justify="right")
        table.add_column("size", justify="right")
        table.add_column("expires")
        table.add_column("serves")
        table.add_column("purge")
        for index in archive.indices:
            serves = ", ".join(f"{_short(start)} .. {_short(end)}" for start, end in index.serves) or "-"
            decision = (
                f"[red]delete[/] ({index.reason})" if index.decision == "delete" else f"keep ({index.reason})"
            )
            table.add_row(
                index.name,
                f"{_short(index.start)} .. {_short(index.end)}",
                f"{index.docs:,}",
                _size(index.size_bytes),
                _short(index.expires_at),
                serves,
                decision,
            )
        console.print(table)
    if report.unknown:
        table = Table(title="unknown indices under the prefix (never touched)", title_justify="left")
        table.add_column("index")
        table.add_column("docs", justify="right")
        table.add_column("size", justify="right")
        table.add_column("why")
        for unknown in report.unknown:
            table.add_row(unknown.name, f"{unknown.docs:,}", _size(unknown.size_bytes), unknown.reason)
        console.print(table)
    coverage = Table(title="coverage: who serves each stretch, oldest first", title_justify="left")
    coverage.add_column("from")
    coverage.add_column("to")
    coverage.add_column("served by")
    coverage.add_column("indices")
    for stretch in stretches(report.coverage):
        if stretch.archive is None:
            coverage.add_row(_short(stretch.start), _short(stretch.end), "[dim]nothing (no data)[/]", "")
            continue
        archive = report.archives[stretch.archive]
        colour = TERMINAL_COLOURS[archive.number % len(TERMINAL_COLOURS)]
        names = stretch.first_index or ""
        if stretch.last_index != stretch.first_index:
            names += f" .. {stretch.last_index}"
        coverage.add_row(
            _short(stretch.start),
            _short(stretch.end),
            f"[{colour}]archive {archive.number}[/] ({archive.tf}, {archive.step_seconds}s)",
            f"{names} ({stretch.indices})",
        )
    console.print(coverage)
    console.print(terminal_timeline(report, width=min(max(console.width - 8, 40), 100)))
    pending = (
        f"{report.pending_actions} alias actions pending: run samplerr rotate"
        if report.pending_actions
        else "aliases up to date"
    )
    console.print(f"{report.aliases} alias targets; {pending}")


def register(app: typer.Typer) -> None:
    @app.command("rotate", help=ROTATE_HELP)
    def rotate_command(
        config: ConfigOption = None,
        es: EsOption = None,
        now: NowOption = None,
        dry_run: DryRunOption = False,
        json_output: JsonOption = False,
        show_all: Annotated[
            bool, typer.Option("--all", help="List the unchanged alias targets too.")
        ] = False,
        lock_wait: LockWaitOption = LOCK_WAIT_S,
    ) -> None:
        cfg, instant = _setup(config, es, now)
        result = _with_connection(
            cfg, lambda connection: rotate(connection, cfg, instant, dry_run=dry_run, lock_wait_s=lock_wait)
        )
        _warn_problems(result.plan.problems, Console(stderr=True))
        if json_output:
            _json(result.plan.body())
        else:
            print_rotation(result, Console(), show_all=show_all)

    @app.command("purge", help=PURGE_HELP)
    def purge_command(
        config: ConfigOption = None,
        es: EsOption = None,
        now: NowOption = None,
        dry_run: DryRunOption = False,
        json_output: JsonOption = False,
        lock_wait: LockWaitOption = LOCK_WAIT_S,
    ) -> None:
        cfg, instant = _setup(config, es, now)
        result = _with_connection(
            cfg, lambda connection: purge(connection, cfg, instant, dry_run=dry_run, lock_wait_s=lock_wait)
        )
        _warn_problems(result.rotation.plan.problems, Console(stderr=True))
        if json_output:
            _json(purge_json(result))
        else:
            print_purge(result, Console())

    @app.command("status", help=STATUS_HELP)
    def status_command(
        config: ConfigOption = None,
        es: EsOption = None,
        now: NowOption = None,
        json_output: JsonOption = False,
        plot: Annotated[
            Path | None,
            typer.Option(
                "--plot",
                metavar="FILE.svg",
                help="Also draw the coverage timeline as SVG.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        cfg, instant = _setup(config, es, now)

        def read(connection: EsConnection) -> StatusReport:
            state = read_state(connection, cfg)
            return status_report(cfg, state, plan_for(cfg, state, instant))

        report = _with_connection(cfg, read)
        if plot is not None:
            try:
                plot.write_text(svg_timeline(report), encoding="utf-8")
            except OSError as exc:
                fail(f"--plot: cannot write {plot}: {exc}", EXIT_FAILURE)
        if json_output:
            _json(report.as_dict())
        else:
            _warn_problems(report.problems, Console(stderr=True))
            print_status(report, Console())
