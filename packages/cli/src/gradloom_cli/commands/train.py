"""``gradloom train``: train a built-in or symbol-JSON model from flags or a TOML file."""
import click

@click.command("train")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file with these settings as keys; flags given here win.")
@click.option("--model", help="Built-in model: mlp, lenet, resnet (lstm-lm where "
                              "gradloom.rnn exists), or a PREFIX-symbol.json file.  "
                              "[default: mlp]")
@click.option("--model-param", "model_param_items", multiple=True, metavar="KEY=VALUE",
              help="Model parameter, repeatable: mlp hidden=256,128; resnet units=3; "
                   "lstm-lm num_hidden, num_embed, num_layers, buckets, tokens=words|chars.")
@click.option("--data", help="mnist, fashion-mnist, mnist-small (bundled), an IDX directory, "
                             "a .csv (label first) or .npz (data, label); a .txt for lstm-lm.  "
                             "[default: mnist-small]")
@click.option("--val-data", help="Validation data (same forms as --data); 'none' to skip. "
                                 "[default: the test split of --data, if it has one]")
@click.option("--data-dir", help="Where mnist/fashion-mnist IDX files are "
                                 "(default: $GRADLOOM_DATA_DIR or ~/.gradloom/datasets).")
@click.option("--context", help="Devices: cpu, cpu:0,1 or gpu:0,1.  [default: cpu]")
@click.option("--kvstore", help="Gradient aggregation: local, device, dist_sync, ... or none. "
                                "[default: local]")
@click.option("--optimizer", help="Optimizer name (sgd, adam, ...).  [default: sgd]")
@click.option("--opt-param", "opt_params", multiple=True, metavar="KEY=VALUE",
              help="Optimizer parameter, repeatable: --opt-param learning_rate=0.05.")
@click.option("--metric", help="Evaluation metric (acc, ce, top_k_accuracy, ...).  "
                               "[default: acc; perplexity for lstm-lm]")
@click.option("--epochs", type=click.IntRange(min=1), help="Total epochs to train.  [default: 3]")
@click.option("--batch-size", type=click.IntRange(min=1), help="Samples per batch (all "
                                                               "devices together).  [default: 64]")
@click.option("--checkpoint", help="Save PREFIX-symbol.json, PREFIX-NNNN.params and .states "
                                   "after every epoch.")
@click.option("--resume/--no-resume", default=None,
              help="Continue from the newest checkpoint of --checkpoint (parameters, "
                   "optimizer state, epoch).")
@click.option("--seed", type=int, help="Random seed.  [default: 0]")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Write training/validation curves to this PNG (needs matplotlib).")
@click.option("--log-json", type=click.Path(dir_okay=False),
              help="Write one JSON object per epoch to this file.")
def train_command(config_file, opt_params, model_param_items, **flags):
    """Train a model; prints progress and writes checkpoints, logs and curves."""
    from ..config import TrainSettings, apply_config_file, apply_flags, parse_key_values
    from ..progress import Progress, check_plot_available
    from ..trainer import train
    settings = TrainSettings()
    if config_file:
        apply_config_file(settings, config_file)
    flags["optimizer_params"] = parse_key_values(opt_params) if opt_params else None
    flags["model_params"] = (parse_key_values(model_param_items, "--model-param")
                             if model_param_items else None)
    apply_flags(settings, flags)
    if settings.plot:
        check_plot_available()
    train(settings, Progress, click.echo)
