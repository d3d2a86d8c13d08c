"""The ``gradloom`` command: a click group whose commands come from plugins.

Every command, the built-in ones included, is added through the
``gradloom_register_commands(cli)`` hook. The group calls that hook lazily, the first time
click lists or looks up a command, so importing this module loads no plugin and
``gradloom --help`` imports no device library.

Errors a person can act on (any ``GradloomError``, an unreadable file) become one line
``Error: ...`` and exit status 2; ``--debug`` (or ``GRADLOOM_DEBUG=1``) shows the traceback.
"""
import os
import warnings

import click

from . import __version__

DEBUG_ENV = "GRADLOOM_DEBUG"
_BUILTIN_PLUGIN = "gradloom_cli.plugin"


class CommandLineError(click.ClickException):
    """A problem with what was asked: printed as ``Error: ...``, exit status 2."""

    exit_code = 2


def _debug_requested(ctx=None):
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return True
    while ctx is not None:
        if ctx.params.get("debug"):
            return True
        ctx = ctx.parent
    return False


def describe_error(exc):
    """One line for an error a person can fix, or None for a bug (keep its traceback)."""
    from gradloom.base import GradloomError
    if isinstance(exc, GradloomError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    return None


def load_plugin_state():
    """The process-wide plugin state. Python's warning for a broken plugin is silenced: the
    group prints one line per failure instead, and ``gradloom plugins`` lists them."""
    from gradloom.plugins import load_plugins
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"gradloom plugin .* failed to load",
                                category=RuntimeWarning)
        return load_plugins()


def current_state(ctx):
    """The plugin state behind the running command (loads plugins on first use)."""
    root = ctx.find_root().command
    if isinstance(root, PluginGroup):
        return root.plugin_state(ctx)
    return load_plugin_state()


class PluginGroup(click.Group):
    """A group that asks every plugin for its commands on first use.

    The commands are rebuilt when the process-wide plugin state changes
    (``gradloom.plugins.set_state``), so tests can swap plugins without reloading modules.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._state = None
        #: command name -> name of the plugin that added it
        self.command_origins = {}
        #: (plugin name, error text) for command hooks that failed or clashed
        self.command_failures = []

    # -- discovery ---------------------------------------------------------------------
    def plugin_state(self, ctx=None):
        """Load plugins (once) and register their commands; returns the plugin state."""
        from gradloom.base import GradloomError
        try:
            state = load_plugin_state()
        except GradloomError as exc:
            if _debug_requested(ctx):
                raise
            raise CommandLineError(f"plugins could not be loaded: {exc}") from exc
        if state is not self._state:
            self._register_commands(state)
            self._state = state
            self._report_failures(state)
        return state

    def _register_commands(self, state):
        self.commands = {}
        self.command_origins = {}
        self.command_failures = []
        impls = list(reversed(state.pm.hook.gradloom_register_commands.get_hookimpls()))
        from . import plugin as builtin
        if not any(impl.plugin is builtin for impl in impls):
            # The built-in commands ship with this package, so they are there even when
            # GRADLOOM_LOAD_PLUGINS excludes this distribution's entry point.
            self._add_from(_BUILTIN_PLUGIN, builtin.gradloom_register_commands)
        for impl in impls:
            self._add_from(impl.plugin_name, impl.function)

    def _add_from(self, plugin_name, register):
        # Register into a scratch group first so one plugin cannot replace another's
        # command or leave half of its commands behind when it raises.
        scratch = click.Group()
        try:
            register(cli=scratch)
        except Exception as exc:  # a broken plugin must not take the command line down
            self.command_failures.append((plugin_name, f"{type(exc).__name__}: {exc}"))
            return
        for name, command in scratch.commands.items():
            owner = self.command_origins.get(name)
            if owner is not None:
                self.command_failures.append(
                    (plugin_name, f"command {name!r} is already provided by {owner!r}; "
                                  f"kept that one"))
                continue
            self.commands[name] = command
            self.command_origins[name] = plugin_name

    def _report_failures(self, state):
        for failure in state.failures:
            click.echo(f"Warning: plugin {failure.name!r} ({failure.module}) failed to load: "
                       f"{failure.error}; see `gradloom plugins`", err=True)
        for plugin_name, error in self.command_failures:
            click.echo(f"Warning: plugin {plugin_name!r} could not add its commands: {error}",
                       err=True)

    def list_commands(self, ctx):
        self.plugin_state(ctx)
        return sorted(self.commands)

    def get_command(self, ctx, cmd_name):
        self.plugin_state(ctx)
        return self.commands.get(cmd_name)

    # -- errors ------------------------------------------------------------------------
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            message = describe_error(exc)
            if message is None or _debug_requested(ctx):
                raise
            raise CommandLineError(message) from exc


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV,
              help="Show the full traceback when a command fails.")
@click.version_option(__version__, "--version", prog_name="gradloom")
def cli(debug):
    """gradloom: train, run and inspect MXNet-style Module models.

    Commands come from installed plugins; `gradloom plugins` shows which plugin added what.
    """
