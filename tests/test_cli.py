"""The command line: every command is reachable, and a run imports only its command's module."""

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
