"""The scale of ``samplerr demo``: its configuration and how densely it samples each stretch of time.

The demo runs the embedded default (the original samplerr synopsis: 20 s kept 2 days in daily
indices, 10 min kept 2 months in monthly ones, 1 h kept 10 years in yearly ones, avg/min/max) with
two concessions so that 120 days fit in well under a minute on two cores, where the development
server ingests some thousands of documents per second:

* every ``step`` is multiplied by ``step_factor`` (6 by default: 2 min, 1 h, 6 h); ``tf``, ``ttl``,
  the cfuncs, the layout and the lateness settings stay as shipped, so indices, aliases, expiry and
  purge behave exactly as they would;
* samples are dense only where the finest archive keeps them at the end of the run, and sparser in
  the stretches that only coarser archives keep by then (:func:`sampling_tiers`): a few samples per
  window of the archive that serves the stretch. A real feed is dense throughout; the archives that
  remain hold the same windows either way, with more samples in each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from samplerr.configfile import embedded_default_text, parse_text
from samplerr.core.config import Config

DAY = 86_400
DEFAULT_STEP_FACTOR = 6
SAMPLES_PER_FINEST_WINDOW = 4  # where the finest archive serves at the end
SAMPLES_PER_MIDDLE_WINDOW = 1  # where an archive between the finest and the coarsest serves
SAMPLES_PER_COARSEST_WINDOW = 2  # where only the coarsest archive serves: min and max differ
_STEP_LINE = re.compile(r'^(step\s*=\s*)"([^"]*)"', re.MULTILINE)
_HOSTS_LINE = re.compile(r"^hosts\s*=.*$", re.MULTILINE)


def duration_text(seconds: int) -> str:
    """``120`` → ``2m``, ``21600`` → ``6h``, ``20`` → ``20s`` (as ``archives.toml`` writes durations)."""
    for unit, size in (("d", DAY), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def demo_config_text(step_factor: int, es_url: str) -> str:
    """The embedded default with every step multiplied by ``step_factor`` and ``hosts = [es_url]``."""
    base = parse_text(embedded_default_text(), "<embedded default>", {})
    steps = iter(archive.step * step_factor for archive in base.archives)
    header = (
        "# samplerr demo: the embedded default (the original samplerr synopsis) with every step\n"
        f"# multiplied by {step_factor}"
        + (" to keep the demo short" if step_factor != 1 else "")
        + "; tf, ttl, cfuncs and the rest as shipped.\n"
    )
    text = _STEP_LINE.sub(
        lambda match: f'{match.group(1)}"{duration_text(next(steps))}"', embedded_default_text()
    )
    text = _HOSTS_LINE.sub(f'hosts = ["{es_url}"]', text, count=1)
    return header + text


def demo_config(step_factor: int, es_url: str) -> Config:
    """The demo's configuration; raises :class:`~samplerr.core.errors.ConfigError` for a bad factor."""
    if step_factor < 1:
        raise ValueError("the step factor must be at least 1")
    return parse_text(demo_config_text(step_factor, es_url), f"<demo: steps x{step_factor}>", {})


@dataclass(frozen=True, slots=True)
class Tier:
    """``[start, end)`` is sampled every ``every`` seconds; archive ``archive`` serves it at the end."""

    archive: int
    start: int
    end: int
    every: int


def kept_since(config: Config, archive: int, now: int) -> int:
    """Start of the oldest period of ``archive`` still kept at ``now`` (period end + ttl > now)."""
    spec = config.archives[archive]
    return spec.tf.period_of(spec.ttl.subtract_from(now)).start


def sampling_tiers(config: Config, start: int, end: int) -> tuple[Tier, ...]:
    """Oldest first: which archive serves each stretch of ``[start, end)`` at ``end``, and the sampling.

    Samples per window of the archive that serves: :data:`SAMPLES_PER_FINEST_WINDOW` where the
    finest one does, :data:`SAMPLES_PER_COARSEST_WINDOW` where the coarsest does,
    :data:`SAMPLES_PER_MIDDLE_WINDOW` in between. Intervals are whole seconds dividing the window.
    """
    tiers: list[Tier] = []
    upper = end
    for number, archive in enumerate(config.archives):
        lower = max(start, min(kept_since(config, number, end), upper))
        if number == len(config.archives) - 1:
            lower = start
        per_window = SAMPLES_PER_MIDDLE_WINDOW
        if number == 0:
            per_window = SAMPLES_PER_FINEST_WINDOW
        elif number == len(config.archives) - 1:
            per_window = SAMPLES_PER_COARSEST_WINDOW
        every = _divisor_at_most(archive.step, max(1, archive.step // per_window))
        if lower < upper:
            tiers.append(Tier(number, lower, upper, every))
        upper = lower
    return tuple(reversed(tiers))


def _divisor_at_most(step: int, wanted: int) -> int:
    """The largest divisor of ``step`` not above ``wanted`` (so samples fall evenly in windows)."""
    return max(d for d in range(1, wanted + 1) if step % d == 0)


def dense_events(tiers: tuple[Tier, ...], series: int) -> int:
    """How many events a feed at the finest tier's rate over the whole run would have been."""
    if not tiers:
        return 0
    every = min(tier.every for tier in tiers)
    return series * sum((tier.end - tier.start) // every for tier in tiers)


def describe_scale(config: Config, step_factor: int, tiers: tuple[Tier, ...]) -> list[str]:
    """Lines saying exactly how the demo departs from the shipped configuration."""
    shipped = parse_text(embedded_default_text(), "<embedded default>", {})
    ours = " / ".join(_human(a.step) for a in config.archives)
    theirs = " / ".join(_human(a.step) for a in shipped.archives)
    lines = [
        f"archives: the shipped ones (tf, ttl, cfuncs, layout, lateness) with every step x{step_factor}: "
        f"{ours}" + (f" (shipped: {theirs})" if step_factor != 1 else ""),
    ]
    for tier in tiers:
        archive = config.archives[tier.archive]
        days = (tier.end - tier.start) / DAY
        lines.append(
            f"a sample every {_human(tier.every)} for {days:.1f} days (what archive {tier.archive}, "
            f"{archive.tf.pattern} step {_human(archive.step)}, keeps at the end)"
        )
    return lines


def _human(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
