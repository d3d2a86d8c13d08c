"""``python -m gradloom_cli`` runs the ``gradloom`` command (e.g. under ``python -m mpi4py``)."""
from .main import cli

if __name__ == "__main__":
    cli(prog_name="gradloom")
