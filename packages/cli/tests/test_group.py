"""The lazy plugin group: discovery, fake plugins' commands, clashes, broken plugins."""
import json
import subprocess
import sys
import textwrap

import click

from gradloom.base import ConfigError
from gradloom_cli.main import cli

from cli_fakes import hookimpl

BUILTINS = {"plugins", "backends", "kvstores", "train", "predict", "score", "inspect"}


class HelloPlugin:
    @hookimpl
    def gradloom_register_commands(self, cli):
        @cli.command("hello")
        @click.option("--name", default="world")
        def hello(name):
            """Say hello."""
            click.echo(f"hello {name}")


class ClashingPlugin:
    @hookimpl
    def gradloom_register_commands(self, cli):
        @cli.command("train")
        def train():
            click.echo("not the real train")


class RaisingPlugin:
    @hookimpl
    def gradloom_register_commands(self, cli):
        raise RuntimeError("command hook exploded")


class FailingCommandPlugin:
    """Commands that fail in the ways the group must translate (or not)."""

    @hookimpl
    def gradloom_register_commands(self, cli):
        @cli.command("bad-config")
        def bad_config():
            raise ConfigError("settings.toml: unknown key 'epoch'; did you mean 'epochs'?")

        @cli.command("missing-file")
        def missing_file():
            open("/nonexistent/gradloom/file.txt")

        @cli.command("bug")
        def bug():
            raise ValueError("a programming error")


def test_builtins_and_plugin_command_are_listed(isolated, runner):
    isolated(extra_plugins=[("hello-plugin", HelloPlugin())])
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()}
    assert listed == BUILTINS | {"hello"}
    result = runner.invoke(cli, ["hello", "--name", "gradloom"])
    assert result.exit_code == 0
    assert result.output == "hello gradloom\n"


def test_commands_follow_the_installed_state(isolated, runner):
    isolated(extra_plugins=[("hello-plugin", HelloPlugin())])
    assert runner.invoke(cli, ["hello"]).exit_code == 0
    isolated()  # a new state without the plugin: the command disappears, no reload needed
    result = runner.invoke(cli, ["hello"])
    assert result.exit_code == 2
    assert "No such command 'hello'" in result.output


def test_builtins_exist_even_without_the_cli_entry_point(isolated, runner):
    isolated(entry_points=[])  # e.g. GRADLOOM_LOAD_PLUGINS= (no external plugins)
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    builtin = [p for p in report["plugins"] if p["name"] == "gradloom_cli.plugin"]
    assert builtin and set(builtin[0]["commands"]) == BUILTINS


def test_clashing_command_keeps_the_first_and_is_reported(isolated, runner):
    isolated(extra_plugins=[("clash", ClashingPlugin())])
    result = runner.invoke(cli, ["train", "--help"])
    assert "not the real train" not in result.output
    assert "--epochs" in result.output
    report = json.loads(runner.invoke(cli, ["plugins", "--json"]).stdout)
    errors = [f["error"] for f in report["failures"] if f["name"] == "clash"]
    assert errors == ["gradloom_register_commands: command 'train' is already provided by "
                      "'gradloom_cli.plugin'; kept that one"]


def test_raising_command_hook_does_not_take_the_cli_down(isolated, runner):
    isolated(extra_plugins=[("raiser", RaisingPlugin()), ("hello-plugin", HelloPlugin())])
    result = runner.invoke(cli, ["hello"])
    assert result.exit_code == 0
    assert result.stdout == "hello world\n"
    assert "plugin 'raiser' could not add its commands: RuntimeError: command hook exploded" \
        in result.stderr


def test_gradloom_error_is_one_line_with_exit_status_2(isolated, runner):
    isolated(extra_plugins=[("failing", FailingCommandPlugin())])
    result = runner.invoke(cli, ["bad-config"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: settings.toml: unknown key 'epoch'; did you mean "
                             "'epochs'?\n")
    assert "Traceback" not in result.output


def test_missing_file_is_one_line_with_exit_status_2(isolated, runner):
    isolated(extra_plugins=[("failing", FailingCommandPlugin())])
    result = runner.invoke(cli, ["missing-file"])
    assert result.exit_code == 2
    assert result.stderr == "Error: No such file or directory: /nonexistent/gradloom/file.txt\n"


def test_debug_shows_the_original_exception(isolated, runner, monkeypatch):
    isolated(extra_plugins=[("failing", FailingCommandPlugin())])
    result = runner.invoke(cli, ["--debug", "bad-config"])
    assert isinstance(result.exception, ConfigError)
    assert result.exit_code == 1
    monkeypatch.setenv("GRADLOOM_DEBUG", "1")
    result = runner.invoke(cli, ["bad-config"])
    assert isinstance(result.exception, ConfigError)


def test_programming_errors_keep_their_traceback(isolated, runner):
    isolated(extra_plugins=[("failing", FailingCommandPlugin())])
    result = runner.invoke(cli, ["bug"])
    assert isinstance(result.exception, ValueError)
    assert result.exit_code == 1


def test_help_loads_no_device_library():
    # A fresh interpreter, every installed plugin: listing commands must not import cupy or
    # mpi4py (mpi4py.MPI would even start MPI).
    code = textwrap.dedent("""
        import json, sys, warnings
        warnings.simplefilter("ignore")
        import gradloom.plugins
        from gradloom_cli.main import cli
        loaded_at_import = gradloom.plugins._state is not None
        try:
            cli(["--help"])
        except SystemExit as exc:
            code = exc.code
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("cupy", "mpi4py"))
        print(json.dumps({"code": code, "heavy": heavy, "loaded_at_import": loaded_at_import,
                          "loaded_after": gradloom.plugins._state is not None}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": [], "loaded_at_import": False,
                      "loaded_after": True}


def test_version(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == "gradloom, version 0.1.0\n"
