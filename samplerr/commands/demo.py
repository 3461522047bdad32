"""``samplerr demo``: months of realistic metrics through samplerr in a minute, against a dev server."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from samplerr.commands.common import EXIT_FAILURE, EXIT_USAGE, fail
from samplerr.commands.lifecycle import parse_now, print_status
from samplerr.core.errors import ConfigError, SamplerrError
from samplerr.demo import DemoOptions, Outcome, Run, Totals, run_demo
from samplerr.demo_data import MAX_SERIES
from samplerr.demo_plot import default_panels, sparkline, svg_series
from samplerr.demo_scale import (
    DEFAULT_STEP_FACTOR,
    demo_config,
    demo_config_text,
    describe_scale,
    duration_text,
)
from samplerr.demo_server import DevServerError
from samplerr.plot import TERMINAL_COLOURS

HELP = f"""Run samplerr on months of realistic metrics against a development server, in well under a minute.

Starts `samplerr devserver` (an Elasticsearch-compatible development server) on a free port and
generates --days of host metrics for --series series of three hosts: daily and weekly cycles, drift,
noise, spikes, two outages, bursts arriving minutes late and one later than late_hold. They go
through the real pipeline in simulated time: InfluxDB line protocol decoded, consolidated into the
archives, written by the bulk writer. Each simulated day the lifecycle runs at the default
schedule's times, in a thread of its own as in `samplerr run`: at 23:05 the next day's indices are
created ahead (the rotate job's first step); at 00:17 the purge job rotates the aliases, then
deletes the expired indices. The 5-minute rotations in between would find nothing to change and
are left out.

Ends with a report: indices per archive, documents and bytes kept versus raw, the aliases, the
coverage timeline of `samplerr status`, a check that the aliases serve every instant once and from
the finest archive kept, and a picture of one series as served through the aliases (an SVG file
and sparklines). --keep DIR keeps the server's data and prints how to explore it.

Scale, to finish in well under a minute on two cores: the archives are the embedded default's (tf,
ttl, cfuncs, layout and lateness as shipped) with every step multiplied by --step-factor (default
{DEFAULT_STEP_FACTOR}: 2 min / 1 h / 6 h instead of 20 s / 10 min / 1 h; 1 runs the shipped steps, far
slower). Samples are dense (4 per window) only in the stretch the finest archive still keeps at the end;
where only coarser archives keep data by then, 1 per window of the middle archive and 2 per window
of the coarsest. The archives left at the end hold the same windows as with a dense feed; fewer
documents are written and purged on the way.

Exit status: 0 done and the checks passed, 1 something failed (the message says what), 2 bad options.
"""
SERVER_WARNING = re.compile(r"\[[^\]]*\]")


class WarningCollector(logging.Handler):
    """Counts samplerr's warnings by message (``[…]`` for the bracketed names), to show them at the end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[SERVER_WARNING.sub("[…]", record.getMessage())] += 1


def _human_step(seconds: int) -> str:
    return (
        duration_text(seconds).replace("m", " min").replace("h", " h").replace("s", " s").replace("d", " d")
    )


def _size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def print_intro(run: Run, options: DemoOptions, console: Console, data_dir: Path | None) -> None:
    hosts = ", ".join(dict.fromkeys(spec.host for spec in run.events.series))
    services = ", ".join(dict.fromkeys(spec.service for spec in run.events.series))
    console.print(
        f"[bold]samplerr demo[/]: {options.days} days of {len(run.events.series)} series "
        f"(hosts {hosts}; {services}) up to {_when(run.end)}",
        highlight=False,
    )
    for line in describe_scale(run.config, options.step_factor, run.tiers):
        console.print(f"  scale: {line}", highlight=False)
    console.print(
        "  lifecycle: each simulated day, the next day's indices created ahead at 23:05 and the purge job "
        "(rotating first) at 00:17, with the simulated time as now",
        highlight=False,
    )
    where = f"state in {data_dir}" if data_dir is not None else "state in memory"
    console.print(f"  development server: {run.config.elasticsearch.hosts[0]} ({where})", highlight=False)


def print_report(outcome: Outcome, svg_path: Path, console: Console) -> None:
    run, totals, status = outcome.run, outcome.totals, outcome.status
    events = run.events
    archives = run.config.archives
    console.rule("what went in")
    rejected = sum(totals.rejected.values())
    outages = sum(1 for incident in events.incidents if incident.delay == 0)
    bursts = len(events.incidents) - outages
    console.print(
        f"events: {totals.events:,} in InfluxDB line protocol ({_size(totals.raw_bytes)}), "
        f"{rejected:,} rejected; "
        f"{events.spikes} spikes, {outages} outages, {bursts} bursts arriving late",
        highlight=False,
    )
    merged = (
        ", ".join(f"archive {n} {count:,}" for n, count in enumerate(totals.late_merged) if count) or "none"
    )
    dropped = (
        ", ".join(f"archive {n} {count:,}" for n, count in enumerate(totals.late_dropped) if count) or "none"
    )
    console.print(
        f"late events merged into windows already written: {merged}; dropped (later than late_hold "
        f"{duration_text(run.config.consolidation.late_hold)}, counted): {dropped}",
        highlight=False,
    )
    deleted_docs = sum(docs for _, docs in totals.deleted)
    console.print(
        f"documents written: {totals.docs_written:,} in {totals.bulk_requests:,} bulk requests; "
        f"lifecycle: {totals.purges} daily purges (each rotating first) and "
        f"{totals.rotations} final rotation, "
        f"{totals.alias_actions:,} alias actions, {totals.created_ahead} indices created ahead of their "
        f"period, {len(totals.deleted)} expired indices deleted ({deleted_docs:,} documents)",
        highlight=False,
    )

    console.rule("what is kept: samplerr status at the end")
    print_status(status, console)

    console.rule("storage")
    kept_docs = sum(archive.docs for archive in status.archives)
    kept_bytes = sum(archive.size_bytes for archive in status.archives)
    kept_indices = sum(len(archive.indices) for archive in status.archives)
    console.print(
        f"kept: {kept_docs:,} documents, {_size(kept_bytes)} in {kept_indices} indices "
        "(JSON source, as the development server counts it)",
        highlight=False,
    )
    finest = min(tier.every for tier in run.tiers)
    dense = outcome.dense_events
    line_bytes = totals.raw_bytes / max(totals.events, 1)
    console.print(
        f"raw: {totals.events:,} events fed ({_size(totals.raw_bytes)}); "
        f"a feed every {_human_step(finest)} for the whole run would be {dense:,} events "
        f"({_size(dense * line_bytes)}) and leave the same windows",
        highlight=False,
    )
    console.print(
        "samplerr keeps at most a fixed number of windows per series and archive (its step and ttl): "
        "the kept size is bounded whatever the feed rate and however long it runs (round robin); "
        "raw data grows with both.",
        highlight=False,
    )

    console.rule(f"served through the aliases ({run.config.elasticsearch.alias_prefix}*)")
    _print_aliases(outcome, console)
    served = outcome.served
    verdict = (
        "[green]no instant served twice, resolution only finer towards now[/]"
        if served.ok
        else f"[red]{served.overlaps} overlaps, {served.coarser_later} coarser after finer[/]"
    )
    console.print(
        f"check: {len(served.series)} series, {served.windows:,} avg windows searched through the aliases: "
        + verdict,
        highlight=False,
    )
    host, service = outcome.pictured
    mine = next((check for check in served.series if (check.host, check.service) == (host, service)), None)
    if mine is not None:
        parts = [
            f"{_human_step(stretch.step)} windows from {_when(stretch.first)} ({stretch.windows:,})"
            for stretch in mine.stretches
        ]
        console.print(f"{service} of {host}: " + "; then ".join(parts), highlight=False)

    console.rule(f"picture: {service} of {host} as served (SVG: {svg_path})")
    steps = [archive.step for archive in archives]
    panels = default_panels(run.start, run.end)
    label_width = max(len(panel.title) for panel in panels)
    for panel in panels:
        line = Text(panel.title.ljust(label_width + 2))
        line.append_text(
            sparkline(outcome.windows, panel, steps, width=min(64, max(console.width - label_width - 4, 20)))
        )
        console.print(line)
    legend = Text(" " * (label_width + 2))
    for number, step in enumerate(steps):
        legend.append("█", style=TERMINAL_COLOURS[number % len(TERMINAL_COLOURS)])
        legend.append(f" archive {number}: {_human_step(step)}  ")
    console.print(legend)


def _print_aliases(outcome: Outcome, console: Console) -> None:
    prefix = outcome.run.config.elasticsearch.alias_prefix
    by_archive: dict[int, list[str]] = {}
    for name in outcome.aliases:
        suffix = name[len(prefix) :]
        for number, archive in enumerate(outcome.run.config.archives):
            if archive.tf.parse(suffix) is not None:
                by_archive.setdefault(number, []).append(name)
                break
    parts = []
    for number, names in sorted(by_archive.items()):
        tf = outcome.run.config.archives[number].tf.pattern
        span = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
        parts.append(f"{len(names)} {tf} ({span})")
    console.print(
        f"aliases: {len(outcome.aliases)} names, {outcome.status.aliases} (alias, index) pairs: "
        + ", ".join(parts)
        + f"; another rotation now would change {outcome.pending_actions} of them",
        highlight=False,
    )


def keep_commands(keep: Path, outcome: Outcome) -> list[str]:
    """Commands to explore a kept run: restart the server on its data, then status, rotate, curl."""
    config_path = keep / "archives.toml"
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(outcome.run.end))
    url = "http://127.0.0.1:9200"
    es = outcome.run.config.elasticsearch
    query = (
        f'{{"query": {{"term": {{"host": "{outcome.pictured[0]}"}}}}, "sort": [{{"@timestamp": "desc"}}]}}'
    )
    return [
        f"samplerr devserver --data-dir {keep / 'data'} --port 9200 &",
        f"samplerr status --config {config_path} --now {at}",
        f"samplerr rotate --config {config_path} --now {at} --dry-run",
        f"curl -s '{url}/_cat/indices/{es.index_prefix}*?v&s=index'",
        f"curl -s '{url}/_cat/aliases/{es.alias_prefix}*?v&s=alias' | tail",
        f"curl -s -H 'Content-Type: application/json' '{url}/{es.alias_prefix}*/_search?size=3' -d '{query}'",
    ]


def print_keep(keep: Path, outcome: Outcome, console: Console) -> None:
    console.rule("explore it")
    console.print(
        f"The development server's data is in {keep / 'data'}, the demo's configuration in "
        f"{keep / 'archives.toml'}. Start the server on it again, then look around (--now shows the "
        "state at the end of the demo; without it, as of now; on another port, add "
        "--es http://127.0.0.1:PORT):",
        highlight=False,
        markup=False,
    )
    for command in keep_commands(keep, outcome):
        console.print(f"  {command}", highlight=False, markup=False, soft_wrap=True)


class ProgressView:
    """The progress bar of the simulated run: the simulated date, documents written, indices purged."""

    def __init__(self, progress: Progress, on_start: Callable[[Run], None]) -> None:
        self.progress = progress
        self.on_start = on_start
        self.task = progress.add_task("starting the development server", total=None, docs=0, deleted=0)
        self.start = 0

    def started(self, run: Run) -> None:
        self.on_start(run)
        self.start = run.start
        self.progress.update(self.task, total=run.end - run.start, description=_when(run.start)[:10])

    def advanced(self, at: int, totals: Totals) -> None:
        self.progress.update(
            self.task,
            completed=at - self.start,
            description=f"simulating {_when(at)[:10]}",
            docs=totals.docs_written,
            deleted=len(totals.deleted),
        )


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[docs]:>9,} docs written, {task.fields[deleted]:>3} indices purged"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def register(app: typer.Typer) -> None:
    @app.command(help=HELP)
    def demo(
        days: Annotated[
            int, typer.Option(help="Days of metrics to simulate, ending now.", min=1, max=3660)
        ] = 120,
        series: Annotated[
            int,
            typer.Option(help=f"Series to generate (1-{MAX_SERIES}): each metric of three hosts in turn."),
        ] = 6,
        keep: Annotated[
            Path | None,
            typer.Option(
                "--keep",
                metavar="DIR",
                help="Keep the development server's data in DIR/data (and the configuration in "
                "DIR/archives.toml) to explore afterwards; DIR must not exist or be empty.",
                file_okay=False,
                show_default=False,
            ),
        ] = None,
        svg: Annotated[Path, typer.Option("--svg", help="Where to write the picture.")] = Path(
            "samplerr-demo.svg"
        ),
        step_factor: Annotated[
            int,
            typer.Option(
                help="Multiply every archive step by this (1: the shipped 20 s / 10 min / 1 h, much slower).",
                min=1,
            ),
        ] = DEFAULT_STEP_FACTOR,
        seed: Annotated[int, typer.Option(help="Seed of the generated metrics.")] = 1,
        now: Annotated[
            str | None,
            typer.Option(
                "--now",
                metavar="ISO8601",
                help="End the simulated run at this instant instead of the current time.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        began = time.monotonic()
        options = _options(days, series, step_factor, seed, now)
        if keep is not None and keep.exists() and any(keep.iterdir()):
            fail(f"--keep: {keep} is not empty; give a new or empty directory", EXIT_USAGE)
        if not svg.parent.is_dir():
            fail(f"--svg: {svg.parent} is not a directory", EXIT_USAGE)
        out, err = Console(), Console(stderr=True)
        data_dir = keep / "data" if keep is not None else None
        with collected_warnings() as warnings:
            outcome = _run(options, data_dir, out, err)
        print_report(outcome, svg, out)
        try:
            svg.write_text(_picture(outcome), encoding="utf-8")
            if keep is not None:
                (keep / "archives.toml").write_text(
                    demo_config_text(step_factor, "http://127.0.0.1:9200"), encoding="utf-8"
                )
        except OSError as exc:
            fail(f"cannot write the results: {exc}", EXIT_FAILURE)
        if keep is not None:
            print_keep(keep, outcome, out)
        for message, count in warnings.messages.items():
            times = f" ({count} times)" if count > 1 else ""
            err.print(f"note: {message}{times}", style="dim", highlight=False, markup=False)
        out.print(f"done in {time.monotonic() - began:.1f} s ({_phases(outcome.totals)})", highlight=False)
        problems = _problems(outcome)
        if problems:
            fail("; ".join(problems), EXIT_FAILURE)


def _options(days: int, series: int, step_factor: int, seed: int, now: str | None) -> DemoOptions:
    """The options checked (exit 2 with a message when one is wrong)."""
    if not 1 <= series <= MAX_SERIES:
        fail(f"--series must be between 1 and {MAX_SERIES}, not {series}", EXIT_USAGE)
    try:
        end = parse_now(now) if now is not None else None
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        demo_config(step_factor, "http://127.0.0.1:9200")
    except ConfigError as exc:
        fail(f"--step-factor {step_factor} makes an invalid configuration: {exc}", EXIT_USAGE)
    return DemoOptions(days=days, series=series, step_factor=step_factor, seed=seed, now=end)


@contextmanager
def collected_warnings() -> Iterator[WarningCollector]:
    """samplerr's log warnings kept aside during the run (they would tear the progress bar)."""
    collector = WarningCollector()
    logger = logging.getLogger("samplerr")
    logger.addHandler(collector)
    logger.propagate = False
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.propagate = True


def _run(options: DemoOptions, data_dir: Path | None, out: Console, err: Console) -> Outcome:
    """:func:`~samplerr.demo.run_demo` with its progress bar; failures exit 1 with one line."""
    try:
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        with _progress(err) as progress:
            view = ProgressView(progress, lambda run: print_intro(run, options, out, data_dir))
            return run_demo(options, data_dir, on_start=view.started, on_progress=view.advanced)
    except (DevServerError, SamplerrError, OSError, ValueError) as exc:
        fail(f"the demo failed: {exc}", EXIT_FAILURE)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILURE)


def _phases(totals: Totals) -> str:
    spent = {phase: f"{seconds:.1f} s" for phase, seconds in totals.seconds.items()}
    return (
        f"simulation {spent.get('simulation')}, of which writing {spent.get('write')} and consolidating "
        f"{spent.get('consolidate')}; lifecycle {spent.get('lifecycle')} alongside, in its own thread; "
        f"reading back {spent.get('read back')}"
    )


def _picture(outcome: Outcome) -> str:
    host, service = outcome.pictured
    steps = [archive.step for archive in outcome.run.config.archives]
    return svg_series(
        outcome.windows,
        default_panels(outcome.run.start, outcome.run.end),
        steps,
        title=f"{service} of {host} through {outcome.run.config.elasticsearch.alias_prefix}* (samplerr demo)",
        subtitle="each window as the aliases serve it (the finest archive kept), up to "
        f"{_when(outcome.run.end)}; min and max for the shorter spans",
    )


def _problems(outcome: Outcome) -> list[str]:
    problems = []
    if not outcome.served.ok:
        problems.append(
            f"the aliases served {outcome.served.overlaps} overlapping stretches and "
            f"{outcome.served.coarser_later} coarser after finer ones"
        )
    if outcome.totals.docs_failed:
        problems.append(f"Elasticsearch refused {outcome.totals.docs_failed:,} documents")
    if outcome.pending_actions:
        problems.append(f"a rotation after the last one would still change {outcome.pending_actions} aliases")
    return problems
