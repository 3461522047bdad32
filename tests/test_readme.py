"""The README's configuration reference lists exactly the keys the code accepts."""

import re
from pathlib import Path

from samplerr.core.config_read import ARCHIVE_KEYS, SECTION_KEYS

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_keys() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Configuration reference", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+(?:\[\])?\.[a-z_]+)` \|", section, flags=re.MULTILINE))


def test_reference_lists_every_key_and_no_other():
    keys = {f"{section}.{key}" for section, names in SECTION_KEYS.items() for key in names}
    keys |= {f"archives[].{key}" for key in ARCHIVE_KEYS}
    assert documented_keys() == keys


def test_readme_quick_start_is_two_commands():
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/demo", "scripts/test"]
    for command in commands:
        assert (README.parent / command).stat().st_mode & 0o111
