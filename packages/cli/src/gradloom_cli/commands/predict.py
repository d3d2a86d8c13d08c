"""``gradloom predict``: run a checkpoint on new inputs."""
import click


def _write_outputs(path, outputs):
    import numpy as np

    from gradloom.base import ConfigError
    from gradloom.fileio import atomic_write
    lower = path.lower()
    if lower.endswith(".npy"):
        with atomic_write(path, "wb") as handle:
            np.save(handle, outputs, allow_pickle=False)
    elif lower.endswith(".csv"):
        with atomic_write(path, "w") as handle:
            np.savetxt(handle, outputs.reshape(len(outputs), -1), delimiter=",", fmt="%.6g")
    else:
        raise ConfigError(f"--output {path!r}: use a .npy or .csv file name")


@click.command("predict")
@click.argument("checkpoint")
@click.argument("inputs", metavar="INPUT")
@click.option("--epoch", type=int, help="Checkpoint epoch (default: the newest saved).")
@click.option("-o", "--output", help="Write the raw outputs (one row per sample) to a .npy or "
                                     ".csv file instead of printing labels.")
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True,
              help="Labels (with probabilities) printed per sample.")
@click.option("--context", default="cpu", show_default=True, help="cpu, cpu:0,1, gpu:0, ...")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
def predict_command(checkpoint, inputs, epoch, output, top_k, context, batch_size):
    """Predict INPUT (.npy, .npz, .csv or IDX file) with CHECKPOINT (a prefix like runs/mlp).

    A .csv here holds only features (no label column); a .npz needs an array 'data'. For an
    lstm-lm checkpoint INPUT is a .txt file: each line gets the most likely next tokens.
    """
    import gradloom as mx

    from .. import checkpoints, language_model
    from ..contexts import parse_contexts
    from ..data import load_arrays
    from ..inference import load_module
    contexts = parse_contexts(context)
    prefix, epoch = checkpoints.split_checkpoint(checkpoint, epoch, option="CHECKPOINT")
    if language_model.is_language_model(prefix):
        model = language_model.LanguageModel(prefix, epoch, contexts, batch_size)
        outputs, skipped = language_model.predict(model, inputs)
        _report(outputs, output, top_k, model.token_label,
                skipped and f"longer than the longest bucket ({model.buckets[-1]} tokens)")
        return
    data, _ = load_arrays(inputs, "test", need_label=False, option="INPUT")
    batch = min(batch_size, len(data))
    module, shape, _, _ = load_module(checkpoint, epoch, data.shape[1:], contexts, batch)
    data = data.reshape((len(data),) + shape)
    data_iter = mx.io.NDArrayIter(data, None, batch)
    outputs = module.predict(data_iter)
    outputs = outputs[0] if isinstance(outputs, list) else outputs
    _report(outputs.asnumpy()[: len(data)], output, top_k, str)


def _report(outputs, output, top_k, label_of, missing=None):
    """Write ``outputs`` to ``output``, or print each row's top-k labels; rows of NaN (no
    prediction) print ``missing`` instead."""
    import numpy as np
    if output:
        _write_outputs(output, outputs)
        click.echo(f"Wrote outputs of shape {outputs.shape} to {output}")
        return
    flat = outputs.reshape(len(outputs), -1)
    k = min(top_k, flat.shape[1])
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    for index, row in enumerate(order):
        if missing and np.isnan(flat[index, 0]):
            click.echo(f"{index}\t({missing})")
            continue
        pairs = "  ".join(f"{label_of(label)} ({flat[index, label]:.4f})" for label in row)
        click.echo(f"{index}\t{pairs}")
