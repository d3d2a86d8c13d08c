"""The CLI's own plugin: adds the built-in commands through the same hook as any plugin.

Importing it loads only click; each command imports its heavy modules when it runs.
"""
import pluggy

hookimpl = pluggy.HookimplMarker("gradloom")


@hookimpl
def gradloom_register_commands(cli):
    from .commands import builtin_commands
    for command in builtin_commands():
        cli.add_command(command)
