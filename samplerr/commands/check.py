"""``samplerr check``: validate a configuration and show each archive's round-robin footprint."""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson
import typer
from rich.console import Console
from rich.table import Table

from samplerr.commands.common import EXIT_OK, ConfigOption, JsonOption, config_or_exit
from samplerr.core.config import Archive, Config
from samplerr.core.durations import Duration


@dataclass(frozen=True, slots=True)
class ArchiveFootprint:
    """What one archive keeps per series, at most, at any time."""

    number: int
    tf: str
    unit: str
    step_seconds: int
    ttl: str
    cfuncs: tuple[str, ...]
    kept_seconds: int  # the longest span of data kept: ttl plus the longest period
    windows_per_series: int
    docs_per_series: int

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "tf": self.tf,
            "unit": self.unit,
            "step_seconds": self.step_seconds,
            "ttl": self.ttl,
            "cfuncs": list(self.cfuncs),
            "kept_seconds": self.kept_seconds,
            "windows_per_series": self.windows_per_series,
            "docs_per_series": self.docs_per_series,
        }


def archive_footprint(number: int, archive: Archive, layout: str) -> ArchiveFootprint:
    """An index lives until its period ends plus ttl, so a series keeps at most
    ``ceil((ttl + longest period) / step)`` windows: times the cfuncs in the ``samplerr`` layout
    (one document per cfunc), once in the ``compact`` layout (one document per window)."""
    kept = archive.ttl.max_seconds() + archive.tf.max_period_seconds
    windows = math.ceil(kept / archive.step)
    return ArchiveFootprint(
        number=number,
        tf=archive.tf.pattern,
        unit=archive.tf.unit,
        step_seconds=archive.step,
        ttl=str(archive.ttl),
        cfuncs=archive.cfuncs,
        kept_seconds=kept,
        windows_per_series=windows,
        docs_per_series=windows * (len(archive.cfuncs) if layout == "samplerr" else 1),
    )


def footprints(config: Config) -> list[ArchiveFootprint]:
    layout = config.consolidation.layout
    return [archive_footprint(number, archive, layout) for number, archive in enumerate(config.archives)]


def check_report(config: Config) -> dict[str, object]:
    """The validated configuration's archives and footprint, as printed by ``--json``."""
    archives = footprints(config)
    return {
        "source": config.source,
        "valid": True,
        "layout": config.consolidation.layout,
        "index_prefix": config.elasticsearch.index_prefix,
        "alias_prefix": config.elasticsearch.alias_prefix,
        "archives": [archive.as_dict() for archive in archives],
        "docs_per_series": sum(archive.docs_per_series for archive in archives),
    }


def render_table(config: Config, console: Console) -> None:
    archives = footprints(config)
    es = config.elasticsearch
    table = Table(
        title=f"{config.source}: valid",
        caption=f"layout {config.consolidation.layout}; indices {es.index_prefix}<tf>, "
        f"aliases {es.alias_prefix}<tf>",
    )
    table.add_column("#", justify="right")
    table.add_column("tf")
    table.add_column("period")
    table.add_column("step", justify="right")
    table.add_column("ttl", justify="right")
    table.add_column("cfuncs")
    table.add_column("docs/series", justify="right")
    for archive in archives:
        table.add_row(
            str(archive.number),
            archive.tf,
            archive.unit,
            str(Duration(seconds=archive.step_seconds)),
            archive.ttl,
            " ".join(archive.cfuncs),
            f"{archive.docs_per_series:,}",
        )
    table.add_section()
    total = sum(archive.docs_per_series for archive in archives)
    table.add_row("", "total", "", "", "", "", f"{total:,}")
    console.print(table)


CHECK_HELP = "\n\n".join(
    [
        "Validate the configuration and show each archive's footprint.",
        "Prints the archives (tf, period, step, ttl, cfuncs) and the most documents one series keeps in "
        "each: an index lives until its period ends plus ttl, so a series keeps at most "
        "ceil((ttl + longest period) / step) windows, times the number of cfuncs in the samplerr layout "
        "(once in the compact layout).",
        "Exit status: 0 valid; 2 invalid, with one line on stderr: FILE: KEY: what is wrong and what "
        "is valid.",
    ]
)


def register(app: typer.Typer) -> None:
    @app.command(help=CHECK_HELP)
    def check(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
        config = config_or_exit(config_path)
        if as_json:
            typer.echo(orjson.dumps(check_report(config), option=orjson.OPT_INDENT_2).decode())
        else:
            render_table(config, Console())
        raise typer.Exit(EXIT_OK)
