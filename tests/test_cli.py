"""The command line: every command is reachable, and a run imports only its command's module."""

import re

import typer
from typer.testing import CliRunner

from samplerr import __version__
from samplerr.cli import COMMAND_MODULES, COMMANDS, build_app, modules_for


def registered(module: str) -> set[str]:
    app = typer.Typer()
    __import__(module, fromlist=["register"]).register(app)
    return {command.name or command.callback.__name__ for command in app.registered_commands}


def test_each_command_is_registered_by_the_module_it_is_mapped_to():
    by_module = {module: registered(module) for module in COMMAND_MODULES}
    assert {name for names in by_module.values() for name in names} == set(COMMANDS)
    for name, module in COMMANDS.items():
        assert name in by_module[module]


def test_a_command_line_needs_only_its_module():
    assert modules_for(["downsample", "--input", "check"]) == ("samplerr.commands.downsample",)
    assert modules_for(["purge", "--dry-run"]) == ("samplerr.commands.lifecycle",)
    assert modules_for(["--help"]) == COMMAND_MODULES
    assert modules_for(["nonsense"]) == COMMAND_MODULES


def test_version_and_unknown_command():
    runner = CliRunner()
    result = runner.invoke(build_app(), ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(build_app(), ["nonsense"])
    assert result.exit_code == 2


def test_configuration_sections_named_in_help_texts_are_shown():
    """Help is rendered as rich markup, where ``[kafka]`` is a style tag and vanishes unless escaped."""
    command = typer.main.get_command(build_app())
    assert isinstance(command, typer.core.TyperGroup)
    texts = [
        param.help or ""
        for sub in command.commands.values()
        for param in sub.params
        if isinstance(param, typer.core.TyperOption)
    ]
    section = re.compile(r"(?<!\\)\[(kafka|service|elasticsearch|consolidation|series|schedule)")
    unescaped = [t for t in texts if section.search(t)]
    assert unescaped == []
    result = CliRunner().invoke(build_app(), ["run", "--help"], env={"COLUMNS": "200"})
    assert "overrides [kafka] bootstrap_servers" in result.output
