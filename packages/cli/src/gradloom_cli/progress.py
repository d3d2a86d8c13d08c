"""Training progress: a live status line on a terminal, plain log lines otherwise."""
import sys
import time

import click


def _metric_text(name_values):
    return "  ".join(f"{name}={value:.4f}" for name, value in name_values)


class Progress:
    """Reports batches, samples/s and the running metric while an epoch runs."""

    def __init__(self, total_epochs, batches_per_epoch, stream=None, interactive=None,
                 log_every=None):
        self.stream = stream or sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.total_epochs = total_epochs
        self.batches = batches_per_epoch
        # plain logs: about five lines per epoch, so a long run stays readable in a file
        self.log_every = log_every or max(1, batches_per_epoch // 5)
        self._start = None
        self._samples = 0
        self._last_draw = 0.0

    def start_epoch(self, epoch):
        self.epoch = epoch
        self._start = time.perf_counter()
        self._samples = 0

    @property
    def elapsed(self):
        return time.perf_counter() - self._start

    @property
    def samples_per_sec(self):
        elapsed = self.elapsed
        return self._samples / elapsed if elapsed > 0 else 0.0

    def batch(self, nbatch, samples, name_values):
        """Called after batch ``nbatch`` (0-based) that held ``samples`` real samples."""
        self._samples += samples
        done = nbatch + 1
        head = f"Epoch {self.epoch + 1}/{self.total_epochs}"
        if self.interactive:
            now = time.perf_counter()
            if now - self._last_draw < 0.1 and done < self.batches:
                return  # redrawing faster than the eye reads only costs time
            self._last_draw = now
            width = 24
            filled = int(width * done / max(self.batches, 1))
            bar = "#" * filled + "-" * (width - filled)
            line = (f"\r{head} [{bar}] {done}/{self.batches}  "
                    f"{self.samples_per_sec:,.0f} samples/s  {_metric_text(name_values())}")
            self.stream.write(line.ljust(100))
            self.stream.flush()
        elif done % self.log_every == 0 or done == self.batches:
            click.echo(f"{head} batch {done}/{self.batches}  "
                       f"{self.samples_per_sec:.1f} samples/s  {_metric_text(name_values())}",
                       file=self.stream)

    def end_epoch(self, record):
        if self.interactive:
            self.stream.write("\r" + " " * 100 + "\r")
        parts = [f"Epoch {record['epoch']}/{self.total_epochs}:"]
        parts += [f"train-{k}={v:.4f}" for k, v in record["train"].items()]
        parts += [f"validation-{k}={v:.4f}" for k, v in record.get("validation", {}).items()]
        parts.append(f"{record['samples_per_sec']:.1f} samples/s")
        parts.append(f"{record['time']:.1f}s")
        click.echo("  ".join(parts), file=self.stream)


def write_json_log(path, records):
    """One JSON object per epoch, the whole file rewritten atomically after each epoch."""
    import json

    from gradloom.fileio import atomic_write
    with atomic_write(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_json_log(path):
    import json
    import os
    if not path or not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                records.append(json.loads(line))
    return records


def check_plot_available():
    """Fail before training when --plot cannot be honoured."""
    import importlib.util

    from gradloom.base import ConfigError
    if importlib.util.find_spec("matplotlib") is None:
        raise ConfigError("--plot needs matplotlib, which is not installed: run "
                          "pip install 'gradloom-cli[plot]' (or pip install matplotlib)")


def plot_curves(path, records):
    """Training and validation metric per epoch, one panel per metric, written as PNG."""
    # The object API with the Agg canvas: no pyplot, no display, no global figure state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from gradloom.fileio import atomic_write
    names = list(dict.fromkeys(n for r in records for n in r["train"]))
    fig = Figure(figsize=(5 * max(len(names), 1), 3.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)
    epochs = [r["epoch"] for r in records]
    for axis, name in zip(axes[0], names):
        axis.plot(epochs, [r["train"].get(name) for r in records], marker="o", label="training")
        if any(name in r.get("validation", {}) for r in records):
            axis.plot(epochs, [r.get("validation", {}).get(name) for r in records],
                      marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(name)
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
