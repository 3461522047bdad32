"""``samplerr downsample``: consolidate a file or stdin offline into bulk NDJSON (or Elasticsearch)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, BinaryIO, Literal

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from samplerr.adapters.dead_letter_file import DeadLetterFile
from samplerr.adapters.files import OpenInput, iter_line_chunks, open_input, open_output
from samplerr.commands.common import EXIT_FAILURE, EXIT_USAGE, ConfigOption, config_or_exit, fail, with_hosts
from samplerr.core.config import Config, InputFormat
from samplerr.core.errors import SamplerrError
from samplerr.pipeline import FEED_BYTES, BulkBody, Pipeline, deferred_collection

if TYPE_CHECKING:
    from samplerr.adapters.elasticsearch import BulkReport

FormatOption = Literal["json", "telegraf", "influx", "graphite"]
BodySink = Callable[[list[BulkBody]], None]  # the bodies of one collect, in order


@dataclass(frozen=True, slots=True)
class DownsampleSummary:
    events: int
    rejected: dict[str, int]
    docs_per_archive: dict[str, int]
    late_merged: int
    late_dropped: int
    dead_letters: dict[str, int] | None = None  # lines appended to the dead-letter file, by reason
    dead_letters_lost: dict[str, int] | None = None  # lines that failed to be appended, by reason

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "events": self.events,
            "rejected": self.rejected,
            "rejected_total": sum(self.rejected.values()),
            "documents": self.docs_per_archive,
            "documents_total": sum(self.docs_per_archive.values()),
            "late_merged": self.late_merged,
            "late_dropped": self.late_dropped,
        }
        if self.dead_letters is not None:
            out["dead_letters"] = self.dead_letters
            out["dead_letters_lost"] = self.dead_letters_lost or {}
        return out


def archive_label(config: Config, number: int) -> str:
    archive = config.archives[number]
    return f"{number}:{archive.tf.pattern}/{archive.step}s"


def run_downsample(
    config: Config,
    source: OpenInput,
    fmt: InputFormat,
    sink: BodySink,
    on_progress: Callable[[int], None] | None = None,
    dead_letters: DeadLetterFile | None = None,
) -> DownsampleSummary:
    """Read every line of ``source``, consolidate into every archive, hand bulk bodies to ``sink``;
    append the lines rejected for an input error to ``dead_letters`` when given."""
    pipeline = Pipeline(config, fmt)
    pipeline.decoder.keep_rejected = dead_letters is not None
    for chunk in iter_line_chunks(source.stream, FEED_BYTES):
        with deferred_collection():
            rejected = pipeline.feed_buffer(chunk)
            if dead_letters is not None:
                dead_letters.add(chunk, rejected)
            bodies = pipeline.collect()
            if bodies:
                sink(bodies)
        if on_progress is not None:
            on_progress(source.position())
    bodies = pipeline.finish()
    if bodies:
        sink(bodies)
    stats = pipeline.consolidator.stats
    return DownsampleSummary(
        events=pipeline.counters.events_in,
        rejected=dict(sorted(pipeline.counters.rejected.items())),
        docs_per_archive={
            archive_label(config, n): docs for n, docs in enumerate(pipeline.counters.docs_per_archive)
        },
        late_merged=int(stats.late_merged),
        late_dropped=int(stats.late_dropped),
        dead_letters=None if dead_letters is None else dict(sorted(dead_letters.written.items())),
        dead_letters_lost=None if dead_letters is None else dict(sorted(dead_letters.failed.items())),
    )


def print_summary(summary: DownsampleSummary, console: Console) -> None:
    console.print(f"events consolidated: {summary.events:,}")
    rejected = sum(summary.rejected.values())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in summary.rejected.items())
    console.print(f"lines rejected: {rejected:,}" + (f" ({reasons})" if reasons else ""))
    console.print(f"late events merged: {summary.late_merged:,}, dropped: {summary.late_dropped:,}")
    for label, docs in summary.docs_per_archive.items():
        console.print(f"documents for archive {label}: {docs:,}")
    if summary.dead_letters is not None:
        lost = sum((summary.dead_letters_lost or {}).values())
        console.print(
            f"rejected lines appended to the dead-letter file: {sum(summary.dead_letters.values()):,}"
            + (f", NOT appended (write failed): {lost:,}" if lost else "")
        )


def _file_sink(out: BinaryIO) -> BodySink:
    def write(bodies: list[BulkBody]) -> None:
        out.writelines(body.body for body in bodies)

    return write


def register(app: typer.Typer) -> None:
    @app.command()
    def downsample(
        config_path: ConfigOption = None,
        input_path: Annotated[
            str,
            typer.Option("--input", "-i", help="Events to read: a file (gzip is detected) or - for stdin."),
        ] = "-",
        fmt: Annotated[
            FormatOption,
            typer.Option(
                "--format",
                "-f",
                help="Input format: json (Riemann-style), telegraf (Telegraf JSON), "
                "influx (InfluxDB line protocol), graphite (plaintext).",
            ),
        ] = "json",
        output: Annotated[
            str,
            typer.Option(
                "--output", "-o", help="Where to write Elasticsearch bulk NDJSON: a file, or - for stdout."
            ),
        ] = "-",
        es: Annotated[
            list[str] | None,
            typer.Option(
                "--es",
                metavar="URL",
                help="Write the documents to this Elasticsearch instead of --output (repeat or separate "
                "with commas for several nodes; `config` means the configuration's hosts). The index "
                "template is installed first; nothing is counted as written before Elasticsearch "
                "acknowledged it.",
                show_default=False,
            ),
        ] = None,
        summary_json: Annotated[
            bool, typer.Option("--json", help="Write the summary to stderr as one JSON object.")
        ] = False,
        dead_letter_file: Annotated[
            str | None,
            typer.Option(
                "--dead-letter-file",
                metavar="PATH",
                help="Append every line rejected for an input error (not_parseable, no_value, "
                "not_finite, no_time, time_out_of_range) to PATH, one JSON object per line: "
                '{"reason", "source" (the input path or -), "line_number", "line" (invalid UTF-8 '
                "escaped as \\xNN)}. The exit code is 1 if any of them could not be written.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Consolidate events offline into every archive (backfills, inspection).

        Reads events, consolidates them into every archive of the configuration, flushes all windows at
        the end of input, and writes Elasticsearch bulk NDJSON (an action line, then the document),
        ready for `curl -H 'Content-Type: application/x-ndjson' --data-binary @FILE http://…/_bulk`.
        A summary (events, rejected lines by reason, documents per archive) goes to stderr.
        """
        config = config_or_exit(config_path)
        err = Console(stderr=True)
        if es and es != ["config"]:
            try:
                config = with_hosts(config, es)
            except ValueError as exc:
                fail(f"--es: {exc}", EXIT_USAGE)
        written: BulkReport | None = None
        try:
            with contextlib.ExitStack() as stack:
                source = stack.enter_context(open_input(input_path))
                dead = None
                if dead_letter_file is not None:
                    dead = DeadLetterFile(dead_letter_file, input_path)
                    stack.callback(dead.close)
                if es:
                    summary, written = _downsample_to_es(config, source, fmt, err, dead)
                else:
                    out_stream = stack.enter_context(open_output(output))
                    summary = _run_with_progress(config, source, fmt, _file_sink(out_stream), err, dead)
        except (SamplerrError, OSError) as exc:
            fail(str(exc), EXIT_FAILURE)
        report = summary.as_dict()
        if written is not None:
            report["elasticsearch"] = {
                "docs_ok": written.docs_ok,
                "docs_failed": dict(written.docs_failed),
                "docs_retried": written.docs_retried,
                "request_retries": written.request_retries,
            }
        if summary_json:
            sys.stderr.write(orjson.dumps(report).decode() + "\n")
        else:
            print_summary(summary, err)
            if written is not None:
                err.print(
                    f"written to Elasticsearch: {written.docs_ok:,} documents acknowledged, "
                    f"{written.docs_failed_total:,} refused, {written.docs_retried:,} item retries, "
                    f"{written.request_retries:,} request retries"
                )
        if written is not None and written.docs_failed_total:
            reasons = ", ".join(f"{kind} {n:,}" for kind, n in written.docs_failed.items())
            fail(f"Elasticsearch refused {written.docs_failed_total:,} documents ({reasons})", EXIT_FAILURE)
        if dead is not None and dead.failed:
            fail(
                f"--dead-letter-file {dead_letter_file}: {sum(dead.failed.values()):,} rejected lines could "
                f"not be appended: {dead.last_error}",
                EXIT_FAILURE,
            )


def _downsample_to_es(
    config: Config, source: OpenInput, fmt: InputFormat, err: Console, dead: DeadLetterFile | None
) -> tuple[DownsampleSummary, BulkReport]:
    """Downsample into Elasticsearch: template first, then every body through the bulk writer."""
    # Imported here: the Elasticsearch client takes a noticeable share of a file run's start-up.
    from samplerr.adapters.elasticsearch import BulkWriter, EsConnection, install_template  # noqa: PLC0415

    with EsConnection(config.elasticsearch) as connection:
        install_template(connection, config)
        writer = BulkWriter(connection)

        def send(bodies: list[BulkBody]) -> None:  # cut into requests within the limits by write
            writer.write(b"".join(body.body for body in bodies), docs=sum(body.docs for body in bodies))

        summary = _run_with_progress(config, source, fmt, send, err, dead)
        return summary, writer.totals


def _run_with_progress(
    config: Config,
    source: OpenInput,
    fmt: InputFormat,
    sink: BodySink,
    err: Console,
    dead: DeadLetterFile | None = None,
) -> DownsampleSummary:
    """Run with a progress bar when stderr is a terminal and the input size is known."""
    if not err.is_terminal or source.size is None:
        return run_downsample(config, source, fmt, sink, dead_letters=dead)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"downsampling {source.name}", total=source.size)
        return run_downsample(
            config,
            source,
            fmt,
            sink,
            on_progress=lambda pos: progress.update(task, completed=pos),
            dead_letters=dead,
        )
