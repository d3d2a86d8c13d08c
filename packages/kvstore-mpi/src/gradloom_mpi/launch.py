"""``gradloom launch -n N [--] script.py|command ...``: start N ranks under ``mpiexec``.

Python scripts run as ``python -m mpi4py script.py`` so an uncaught exception (or a non-zero
``sys.exit``) on any rank calls ``MPI_Abort`` and ends every rank (no hang). ``gradloom ...``
and a bare ``train``/``predict``/``score`` run the ``gradloom`` command under the same
runner; anything else is passed to ``mpiexec`` as it is.
"""
import os
import shutil
import sys

__all__ = ["find_mpiexec", "build_command", "launch_command", "MPICH_HINT"]

MPICH_HINT = "pip install 'gradloom-kvstore-mpi[mpich]'"
# first arguments that name a gradloom subcommand rather than a program
_GRADLOOM_SUBCOMMANDS = ("train", "predict", "score")
# the `gradloom` command, started by mpi4py's runner so a failing rank aborts the job
_CLI_ENTRY = "from gradloom_cli.main import cli; cli(prog_name='gradloom')"


def find_mpiexec(python=None):
    """Path of ``mpiexec``: next to the Python interpreter (a venv with the ``mpich`` wheel)
    first, then on ``PATH``. Raises ``ConfigError`` naming the package to install."""
    from gradloom.base import ConfigError
    python = python or sys.executable
    for name in ("mpiexec", "mpirun"):
        candidate = os.path.join(os.path.dirname(python), name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(f"no mpiexec found next to {python} or on PATH; install an MPI "
                      f"runtime, e.g. {MPICH_HINT}")


def build_command(n, args, mpiexec=None, python=None, extra_mpi_args=()):
    """The ``mpiexec`` command line that runs ``args`` on ``n`` ranks."""
    from gradloom.base import ConfigError
    python = python or sys.executable
    if int(n) < 1:
        raise ConfigError(f"-n must be at least 1, not {n}")
    args = list(args)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        raise ConfigError("nothing to launch: give a script (gradloom launch -n 2 train.py) "
                          "or a command after -- (gradloom launch -n 2 -- gradloom train ...)")
    mpiexec = mpiexec or find_mpiexec(python)
    first = args[0]
    if first.endswith(".py"):
        program = [python, "-m", "mpi4py", *args]
    elif first == "-m":
        # `gradloom launch -n 2 -m package.module ...`: a module, also under mpi4py's guard
        program = [python, "-m", "mpi4py", *args]
    elif first in _GRADLOOM_SUBCOMMANDS:
        program = [python, "-m", "mpi4py", "-c", _CLI_ENTRY, *args]
    elif os.path.basename(first) == "gradloom":
        # the CLI turns errors into exit status 2; under plain mpiexec that rank would then
        # wait in MPI_Finalize for ranks that wait for it. mpi4py's runner aborts instead.
        program = [python, "-m", "mpi4py", "-c", _CLI_ENTRY, *args[1:]]
    else:
        program = args
    return [mpiexec, "-n", str(int(n)), *extra_mpi_args, *program]


def launch_command():
    """The click command the plugin adds to the ``gradloom`` group."""
    import click

    @click.command("launch", context_settings={"ignore_unknown_options": True,
                                               "allow_interspersed_args": False})
    @click.option("-n", "--np", "num_ranks", type=int, required=True,
                  help="Number of MPI ranks (processes) to start.")
    @click.option("--mpiexec", "mpiexec", default=None,
                  help="mpiexec to use (default: next to this Python, then PATH).")
    @click.option("--mpi-arg", "mpi_args", multiple=True,
                  help="Extra argument for mpiexec itself (repeatable), e.g. --mpi-arg=-bind-to "
                       "--mpi-arg=none.")
    @click.option("--dry-run", is_flag=True, help="Print the mpiexec command and exit.")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def launch(num_ranks, mpiexec, mpi_args, dry_run, args):
        """Run a training script or command on N MPI ranks.

        \b
        gradloom launch -n 2 train_mnist.py --epochs 3
        gradloom launch -n 2 -- gradloom train --kvstore dist_sync ...
        gradloom launch -n 4 train --config run.toml

        Scripts ending in .py run under `python -m mpi4py`, so an error on any rank stops
        every rank with a non-zero status. The exit status is mpiexec's.
        """
        import subprocess

        from gradloom.base import GradloomError
        try:
            command = build_command(num_ranks, args, mpiexec=mpiexec,
                                    extra_mpi_args=mpi_args)
        except GradloomError as exc:
            raise click.UsageError(str(exc)) from None
        if dry_run:
            click.echo(" ".join(_quote(part) for part in command))
            return
        env = dict(os.environ)
        # N ranks share the cores: one BLAS thread each unless the user chose otherwise
        env.setdefault("OMP_NUM_THREADS", "1")
        try:
            completed = subprocess.run(command, env=env)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        except OSError as exc:
            raise click.UsageError(f"could not start {command[0]}: {exc}; install an MPI "
                                   f"runtime, e.g. {MPICH_HINT}") from None
        raise SystemExit(completed.returncode)

    return launch


def _quote(part):
    import shlex
    return shlex.quote(part)
