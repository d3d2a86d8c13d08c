"""What ``gradloom train`` does once its settings are known: data, model, Module, loop.

``prepare`` turns settings into a *job* (iterators, a module factory, metric, initializer);
classifiers are built here, sequence models by their zoo module. The loop is the one
``Module.fit`` runs (forward_backward, update, update_metric), written out so that progress,
per-epoch records and resumable checkpoints (parameters, optimizer state, epoch) come from
one place for every kind of module.
"""
import functools
import os

from gradloom.base import ConfigError

from . import checkpoints
from .contexts import parse_contexts
from .data import has_test_split, load_arrays, shape_for

_NO_KVSTORE = ("", "none", "None")


def load_symbol_file(path):
    import gradloom as mx
    if not os.path.exists(path):
        raise ConfigError(f"symbol file not found: {path} (--model); give a built-in model "
                          f"name or an existing PREFIX-symbol.json")
    return mx.sym.load(path)


def label_names_of(symbol):
    return [a for a in symbol.list_arguments() if a.endswith("_label")]


def _check_kvstore(name):
    from gradloom.plugins import load_plugins
    if name in _NO_KVSTORE:
        return None
    stores = load_plugins().kvstores
    if name not in stores:
        raise ConfigError(f"unknown kvstore {name!r} (--kvstore); registered: "
                          f"{', '.join(stores.names()) or 'none'}, or 'none'")
    return name


def _num_classes(*labels):
    import numpy as np
    values = np.concatenate([np.asarray(y).ravel() for y in labels if y is not None])
    if values.size == 0 or np.any(values < 0) or np.any(values != np.round(values)):
        raise ConfigError("labels must be class indices 0, 1, 2, ... for classification")
    return int(values.max()) + 1


def _make_dirs(settings):
    for path in (settings.checkpoint, settings.log_json, settings.plot):
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)


def prepare(settings):
    """Load data and build the model: everything that can fail before training starts."""
    contexts = parse_contexts(settings.context)
    kvstore = _check_kvstore(settings.kvstore)
    if settings.resume and not settings.checkpoint:
        raise ConfigError("--resume needs --checkpoint PREFIX (the prefix to resume from)")
    zoo_model = None
    if not settings.model.endswith(".json"):
        from .zoo import get_model
        zoo_model = get_model(settings.model)
    _make_dirs(settings)
    if zoo_model is not None and hasattr(zoo_model, "make_job"):
        job = zoo_model.make_job(settings, contexts)
    else:
        job = _classifier_job(settings, contexts, zoo_model)
    job.update(contexts=contexts, kvstore=kvstore)
    return job


def _classifier_job(settings, contexts, zoo_model):
    import gradloom as mx

    from .zoo import model_params
    train_x, train_y = load_arrays(settings.data, "train", settings.data_dir)
    val_x = val_y = None
    if settings.val_data == "none":
        pass
    elif settings.val_data:
        val_x, val_y = load_arrays(settings.val_data, "test", settings.data_dir,
                                   option="--val-data")
    elif has_test_split(settings.data):
        val_x, val_y = load_arrays(settings.data, "test", settings.data_dir)
    num_classes = _num_classes(train_y, val_y)
    if zoo_model is None:
        if settings.model_params:
            raise ConfigError("--model-param applies to built-in models, not to a symbol file")
        symbol = load_symbol_file(settings.model)
    else:
        shape = zoo_model.input_shape(train_x.shape[1:])
        params = model_params(zoo_model, settings.model_params, settings.model)
        symbol = zoo_model.build(num_classes, shape, **params)
        train_x = shape_for(train_x, shape)
        val_x = shape_for(val_x, shape) if val_x is not None else None
    labels = label_names_of(symbol)
    if len(labels) != 1:
        raise ConfigError(f"model {settings.model!r} has label inputs {labels}; train needs "
                          f"exactly one argument named *_label (a SoftmaxOutput head)")
    batch = min(settings.batch_size, len(train_x))
    train_iter = mx.io.NDArrayIter(train_x, train_y, batch, shuffle=True,
                                   label_name=labels[0])
    val_iter = None
    if val_x is not None:
        val_iter = mx.io.NDArrayIter(val_x, val_y, min(batch, len(val_x)),
                                     label_name=labels[0])
    validation = f"validation {len(val_x)}" if val_x is not None else "no validation data"

    def make_module(contexts):
        return mx.mod.Module(symbol, data_names=("data",), label_names=(labels[0],),
                             context=contexts)

    return {"symbol": symbol, "make_module": make_module, "train": train_iter,
            "val": val_iter, "metric": lambda: settings.metric or "acc",
            "initializer": mx.init.Xavier(rnd_type="gaussian", factor_type="in",
                                          magnitude=2),
            "summary": f"{len(train_x)} samples, {validation}, {num_classes} classes"}


def describe(settings, job, optimizer_params, kvstore=None):
    """One line saying what is about to be trained, where, and how."""
    devices = ",".join(str(c) for c in job["contexts"])
    params = ", ".join(f"{k}={v}" for k, v in sorted(optimizer_params.items()))
    workers = ""
    if kvstore is not None and kvstore.num_workers > 1:
        workers = f" ({kvstore.num_workers} workers, progress of rank 0)"
    return (f"Training {settings.model} on {settings.data} ({job['summary']}) on {devices}, "
            f"kvstore {job['kvstore'] or 'none'}{workers}, batch size "
            f"{job['train'].batch_size}, {settings.optimizer}({params})")


def _expected_shapes(symbol, provide_data, provide_label):
    shapes = {d.name: tuple(d.shape) for d in list(provide_data) + list(provide_label)}
    arg_shapes, _, aux_shapes = symbol.infer_shape(**shapes)
    params = {n: s for n, s in zip(symbol.list_arguments(), arg_shapes) if n not in shapes}
    return params, dict(zip(symbol.list_auxiliary_states(), aux_shapes))


def _resume_point(settings, job):
    """(begin epoch, arg params, aux params, states file or None) from the newest checkpoint."""
    import gradloom as mx
    prefix = settings.checkpoint
    epoch = checkpoints.latest_epoch(prefix)
    if epoch is None:
        raise ConfigError(f"--resume: no checkpoint {prefix}-NNNN.params to resume from; "
                          f"drop --resume to start a new run")
    arg_params, aux_params = mx.model.load_params(prefix, epoch)
    train_iter = job["train"]
    expected_args, expected_aux = _expected_shapes(job["symbol"], train_iter.provide_data,
                                                   train_iter.provide_label)
    checkpoints.check_params_match(expected_args, expected_aux, arg_params, aux_params,
                                   checkpoints.params_path(prefix, epoch))
    states = checkpoints.states_path(prefix, epoch)
    return epoch, arg_params, aux_params, states if os.path.exists(states) else None


def create_metric(spec):
    import gradloom as mx
    if not isinstance(spec, str):
        return spec
    return mx.metric.create(spec)


def train(settings, progress_factory, echo):
    """Run the training; returns the per-epoch records (dicts)."""
    import gradloom as mx

    from .progress import plot_curves, read_json_log, write_json_log
    mx.random.seed(settings.seed)
    job = prepare(settings)
    train_iter, val_iter = job["train"], job["val"]
    kvstore = mx.kv.create(job["kvstore"]) if job["kvstore"] else None
    if kvstore is not None:
        # every rank builds the same shuffled iterator (same data, same --seed) and trains
        # on its own share of the batches
        train_iter = kvstore.shard(train_iter)
    log_json, plot = settings.log_json, settings.plot
    if kvstore is not None and not kvstore.should_write_checkpoint:
        # rank 0 reports for every rank: the others print nothing and write no log or plot
        echo, log_json, plot = _silent, None, None
        progress_factory = functools.partial(progress_factory, stream=_NullStream())
    begin_epoch, arg_params, aux_params, states_file = 0, None, None, None
    if settings.resume:
        begin_epoch, arg_params, aux_params, states_file = _resume_point(settings, job)
        if begin_epoch >= settings.epochs:
            echo(f"{checkpoints.params_path(settings.checkpoint, begin_epoch)} already holds "
                 f"{begin_epoch} epoch(s) and --epochs is {settings.epochs}: nothing to do")
            return []
        echo(f"Resuming from {checkpoints.params_path(settings.checkpoint, begin_epoch)} "
             f"(epoch {begin_epoch}"
             f"{', with optimizer state' if states_file else ', no optimizer state saved'})")
    optimizer_params = dict(settings.optimizer_params)
    optimizer_params.setdefault("learning_rate", 0.1)
    echo(describe(settings, job, optimizer_params, kvstore))
    module = job["make_module"](job["contexts"])
    module.bind(data_shapes=train_iter.provide_data, label_shapes=train_iter.provide_label)
    module.init_params(initializer=job["initializer"], arg_params=arg_params,
                       aux_params=aux_params)
    # Module sets rescale_grad = 1/batch size itself (MXNet's rule), so it is not set here
    module.init_optimizer(kvstore=kvstore, optimizer=settings.optimizer,
                          optimizer_params=optimizer_params)
    if states_file:
        module.load_optimizer_states(states_file)
    records = [r for r in read_json_log(settings.log_json) if r.get("epoch", 0) <= begin_epoch] \
        if settings.resume else []
    metric = create_metric(job["metric"]())
    batches = _count_batches(train_iter)
    progress = progress_factory(settings.epochs, batches)
    for epoch in range(begin_epoch, settings.epochs):
        progress.start_epoch(epoch)
        train_iter.reset()
        metric.reset()
        for nbatch, batch in enumerate(train_iter):
            module.forward_backward(batch)
            module.update()
            module.update_metric(metric, batch.label)
            progress.batch(nbatch, train_iter.batch_size - (batch.pad or 0),
                           metric.get_name_value)
        if kvstore is not None:
            kvstore.reduce_metric(metric)   # the epoch's metric over every rank's batches
        record = {"epoch": epoch + 1, "train": dict(metric.get_name_value()),
                  "time": round(progress.elapsed, 3),
                  "samples_per_sec": round(progress.samples_per_sec, 1)}
        if val_iter is not None:
            record["validation"] = dict(module.score(val_iter, create_metric(job["metric"]())))
        if settings.checkpoint:
            module.save_checkpoint(settings.checkpoint, epoch + 1, save_optimizer_states=True)
            record["checkpoint"] = checkpoints.params_path(settings.checkpoint, epoch + 1)
        records.append(record)
        progress.end_epoch(record)
        if log_json:
            write_json_log(log_json, records)
    if plot:
        plot_curves(plot, records)
        echo(f"Training curves written to {plot}")
    return records


def _silent(message):
    """``echo`` of the ranks that do not report."""


class _NullStream:
    """Where the progress of the ranks that do not report goes."""

    def write(self, text):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False


def _count_batches(data_iter):
    import math
    size = getattr(data_iter, "num_data", None)
    if size is not None:
        return math.ceil(size / data_iter.batch_size)
    data_iter.reset()
    count = sum(1 for _ in data_iter)
    data_iter.reset()
    return count
