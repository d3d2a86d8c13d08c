"""``gradloom score``: evaluate a checkpoint on labelled data."""
import click


@click.command("score")
@click.argument("checkpoint")
@click.argument("data", metavar="DATA")
@click.option("--epoch", type=int, help="Checkpoint epoch (default: the newest saved).")
@click.option("--metric", "metrics", multiple=True, help="Metric name, repeatable.  "
                                                         "[default: acc]")
@click.option("--split", type=click.Choice(["test", "train"]), default="test",
              show_default=True, help="Which split of a named data set or IDX directory.")
@click.option("--data-dir", help="Where mnist/fashion-mnist IDX files are.")
@click.option("--context", default="cpu", show_default=True, help="cpu, cpu:0,1, gpu:0, ...")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def score_command(checkpoint, data, epoch, metrics, split, data_dir, context, batch_size,
                  as_json):
    """Compute metrics of CHECKPOINT on labelled DATA (a data set name, IDX directory,
    .csv with the label first, or .npz with data and label; for an lstm-lm checkpoint, a
    .txt file, scored by perplexity)."""
    import gradloom as mx

    from .. import checkpoints, language_model
    from ..contexts import parse_contexts
    from ..data import load_arrays
    from ..inference import load_module
    from ..output import echo_json
    contexts = parse_contexts(context)
    prefix, epoch = checkpoints.split_checkpoint(checkpoint, epoch, option="CHECKPOINT")
    if language_model.is_language_model(prefix):
        _score_language_model(prefix, epoch, data, metrics, contexts, batch_size, as_json)
        return
    features, labels = load_arrays(data, split, data_dir or "", option="DATA")
    batch = min(batch_size, len(features))
    module, shape, label_name, where = load_module(checkpoint, epoch, features.shape[1:],
                                                   contexts, batch)
    features = features.reshape((len(features),) + shape)
    data_iter = mx.io.NDArrayIter(features, labels, batch,
                                  label_name=label_name or "softmax_label")
    metric = mx.metric.create(list(metrics) if len(metrics) > 1 else (metrics or ("acc",))[0])
    results = module.score(data_iter, metric)
    if as_json:
        echo_json({"checkpoint": where, "data": data, "samples": len(features),
                   "metrics": dict(results)})
        return
    click.echo(f"{where} on {data} ({len(features)} samples):")
    for name, value in results:
        click.echo(f"  {name} = {value:.4f}")


def _score_language_model(prefix, epoch, data, metrics, contexts, batch_size, as_json):
    from .. import checkpoints, language_model
    from ..output import echo_json
    model = language_model.LanguageModel(prefix, epoch, contexts, batch_size)
    results, lines, skipped, tokens = language_model.score(model, data, metrics)
    where = checkpoints.params_path(prefix, epoch)
    if as_json:
        echo_json({"checkpoint": where, "data": data, "lines": lines, "tokens": tokens,
                   "skipped_lines": skipped, "metrics": dict(results)})
        return
    note = (f"; {skipped} longer than the longest bucket ({model.buckets[-1]}) skipped"
            if skipped else "")
    click.echo(f"{where} on {data} ({lines} lines, {tokens} predicted tokens{note}):")
    for name, value in results:
        click.echo(f"  {name} = {value:.4f}")
