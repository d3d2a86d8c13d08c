"""Built-in commands. Each module defines click commands and imports nothing heavy."""


def builtin_commands():
    from .inspect import inspect_command
    from .plugins import plugins_command
    from .predict import predict_command
    from .registries import backends_command, kvstores_command
    from .score import score_command
    from .train import train_command
    return [plugins_command, backends_command, kvstores_command, train_command,
            predict_command, score_command, inspect_command]
