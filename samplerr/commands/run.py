"""``samplerr run``: the service — Kafka (or a file, or stdin) in, archives in Elasticsearch out."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import typer

from samplerr.commands.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    EsOption,
    config_or_exit,
    fail,
    with_hosts,
)
from samplerr.core.config import Config
from samplerr.core.durations import parse_duration
from samplerr.core.errors import ConfigError, SamplerrError
from samplerr.service import MAX_POLL_MESSAGES, KafkaOptions
from samplerr.service_logging import setup_logging
from samplerr.service_run import RunOptions, run_service

SourceOption = Literal["kafka", "file", "stdin"]
FormatOption = Literal["json", "telegraf", "influx", "graphite"]
LogFormatOption = Literal["text", "json"]
LogLevelOption = Literal["debug", "info", "warning", "error"]

RUN_HELP = (
    "Run the service: consume metrics, consolidate them into every archive, write the archives to "
    "Elasticsearch, and run the lifecycle jobs (rotate, purge).\n\n"
    "Sources: Kafka (the \\[kafka] section: bootstrap_servers, topics, group_id, format, and "
    "\\[kafka.config] passed to librdkafka for SASL/SSL and tuning), or a file or stdin for trials and "
    "pipes.\n\n"
    "With Kafka, offsets are committed only once every event before them is in Elasticsearch or in a "
    "checkpoint of the open windows (\\[service] checkpoint = fs in checkpoint_dir, or elasticsearch): "
    "after a crash the service resumes from its checkpoints and the archives come out as if nothing had "
    "happened. Producers must key messages by series (e.g. Telegraf's routing_tag = host) so that each "
    "series lives in one partition; several instances in one group then share the partitions.\n\n"
    "Prometheus metrics on http://LISTEN/metrics, health on /healthz (\\[service] listen). SIGTERM or "
    "SIGINT: stop consuming, write what is final, checkpoint, commit and exit 0 within "
    "\\[service] shutdown_timeout. A configuration change needs a restart.\n\n"
    "Exit status: 0 stopped cleanly (or input done), 1 failure (the log says why), 2 invalid "
    "configuration or options."
)


def _override(
    config: Config, bootstrap_servers: str | None, topics: list[str] | None, group: str | None
) -> Config:
    """``config`` with the Kafka settings given on the command line."""
    kafka = config.kafka
    if bootstrap_servers:
        kafka = dataclasses.replace(kafka, bootstrap_servers=bootstrap_servers)
    if topics:
        kafka = dataclasses.replace(kafka, topics=tuple(topics))
    if group:
        kafka = dataclasses.replace(kafka, group_id=group)
    return config if kafka is config.kafka else dataclasses.replace(config, kafka=kafka)


def register(app: typer.Typer) -> None:
    @app.command("run", help=RUN_HELP)
    def run(
        config_path: ConfigOption = None,
        source: Annotated[
            SourceOption,
            typer.Option("--source", help="Where events come from: kafka, file (with --input) or stdin."),
        ] = "kafka",
        input_path: Annotated[
            str | None,
            typer.Option("--input", "-i", help="The file to read with --source file (gzip is detected)."),
        ] = None,
        fmt: Annotated[
            FormatOption | None,
            typer.Option(
                "--format",
                "-f",
                help="Input format for --source file/stdin (Kafka topics use \\[kafka] format and "
                "topic_formats): json, telegraf, influx, graphite. Default: \\[kafka] format.",
                show_default=False,
            ),
        ] = None,
        es: EsOption = None,
        bootstrap_servers: Annotated[
            str | None,
            typer.Option(
                "--bootstrap-servers",
                help="Kafka brokers (overrides \\[kafka] bootstrap_servers).",
                show_default=False,
            ),
        ] = None,
        topics: Annotated[
            list[str] | None,
            typer.Option(
                "--topic",
                help="Kafka topic to consume; repeat for several (overrides \\[kafka] topics).",
                show_default=False,
            ),
        ] = None,
        group: Annotated[
            str | None,
            typer.Option(
                "--group", help="Kafka consumer group (overrides \\[kafka] group_id).", show_default=False
            ),
        ] = None,
        listen: Annotated[
            str | None,
            typer.Option(
                "--listen",
                help="HOST:PORT for /metrics and /healthz (overrides \\[service] listen; "
                "port 0 takes a free port, logged at start).",
                show_default=False,
            ),
        ] = None,
        no_lifecycle: Annotated[
            bool, typer.Option("--no-lifecycle", help="Do not run the lifecycle jobs (rotate, purge).")
        ] = False,
        checkpoint_interval: Annotated[
            str,
            typer.Option(
                "--checkpoint-interval",
                help="How often open windows are checkpointed and offsets committed (Kafka). A "
                "crash replays at most this much input.",
            ),
        ] = "5s",
        discard_state: Annotated[
            bool,
            typer.Option(
                "--discard-state",
                help="Start partitions without their checkpoints (when a checkpoint is lost or the "
                "archives changed): windows open at the last checkpoint are rewritten from the "
                "events after it only.",
            ),
        ] = False,
        queue_mib: Annotated[
            float,
            typer.Option(
                "--queue-mib",
                min=0.01,
                help="MiB of documents waiting for Elasticsearch before consumption pauses (the memory "
                "kept for a slow or unavailable Elasticsearch).",
            ),
        ] = 32.0,
        max_poll_messages: Annotated[
            int,
            typer.Option(
                "--max-poll-messages",
                min=1,
                help="Kafka messages taken per poll at most. Larger polls cost less CPU per event; "
                "what one poll takes is in memory beyond --queue-mib until written.",
            ),
        ] = MAX_POLL_MESSAGES,
        dead_letter_file: Annotated[
            str | None,
            typer.Option(
                "--dead-letter-file",
                metavar="PATH",
                help="With --source file or stdin: append every line rejected for an input error "
                "(not_parseable, no_value, not_finite, no_time, time_out_of_range) to PATH, one JSON "
                'object per line: {"reason", "source" (the input path or -), "line_number", "line" '
                "(invalid UTF-8 escaped as \\xNN)}. Write failures are counted and logged, never "
                "fatal. Kafka uses \\[kafka] dead_letter_topic instead.",
                show_default=False,
            ),
        ] = None,
        log_format: Annotated[
            LogFormatOption, typer.Option("--log-format", help="Log lines as readable text or JSON objects.")
        ] = "text",
        log_level: Annotated[
            LogLevelOption, typer.Option("--log-level", help="Least severe level logged.")
        ] = "info",
    ) -> None:
        config = config_or_exit(config_path)
        if es:
            try:
                config = with_hosts(config, es)
            except ValueError as exc:
                fail(f"--es: {exc}", EXIT_USAGE)
        config = _override(config, bootstrap_servers, topics, group)
        if source == "file" and not input_path:
            fail("--source file needs --input PATH", EXIT_USAGE)
        if input_path and source != "file":
            fail("--input goes with --source file", EXIT_USAGE)
        if dead_letter_file and source == "kafka":
            fail(
                "--dead-letter-file goes with --source file or stdin; "
                "with Kafka, set [kafka] dead_letter_topic",
                EXIT_USAGE,
            )
        try:
            interval = parse_duration(checkpoint_interval, fixed=True).seconds
        except ValueError as exc:
            fail(f"--checkpoint-interval: {exc}", EXIT_USAGE)
        options = RunOptions(
            source=source,
            input_path=input_path or "-",
            fmt=fmt,
            lifecycle=not no_lifecycle,
            listen=listen,
            dead_letter_file=dead_letter_file,
            kafka=KafkaOptions(
                checkpoint_interval=float(interval),
                discard_state=discard_state,
                high_water=int(queue_mib * 2**20),
                max_poll_messages=max_poll_messages,
            ),
        )
        setup_logging(log_format, log_level)
        try:
            status = run_service(config, options)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except SamplerrError as exc:  # Elasticsearch hosts unusable, checkpoint directory not writable …
            fail(str(exc), EXIT_FAILURE)
        raise typer.Exit(status)
