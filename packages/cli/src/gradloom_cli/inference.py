"""Loading a checkpoint into a Module for ``predict`` and ``score``."""
import numpy as np

from gradloom.base import ConfigError, GradloomError, ShapeError

from . import checkpoints


def _candidate_shapes(sample_shape):
    """Per-sample shapes to try, in order: as given, flattened, as a square 1-channel image."""
    shapes = [tuple(sample_shape)]
    size = int(np.prod(sample_shape))
    shapes.append((size,))
    side = int(round(size ** 0.5))
    if side * side == size:
        shapes.append((1, side, side))
    return list(dict.fromkeys(shapes))


def fit_input_shape(symbol, arg_params, aux_params, sample_shape, where):
    """The per-sample shape that makes the symbol's parameters match the saved ones."""
    data_names = [a for a in symbol.list_arguments()
                  if a not in arg_params and not a.endswith("_label")]
    if data_names != ["data"]:
        raise ConfigError(f"{where}: the model's inputs are {data_names}; predict/score feed "
                          f"one input named 'data'")
    last_error = None
    for shape in _candidate_shapes(sample_shape):
        try:
            arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1,) + shape)
        except GradloomError as exc:
            last_error = exc
            continue
        if arg_shapes is None:
            continue
        expected = dict(zip(symbol.list_arguments(), arg_shapes))
        expected_aux = dict(zip(symbol.list_auxiliary_states(), aux_shapes))
        if all(tuple(expected.get(n, ())[1:]) == tuple(v.shape[1:]) and
               tuple(expected.get(n, ())) == tuple(v.shape) for n, v in arg_params.items()) \
                and all(tuple(expected_aux.get(n, ())) == tuple(v.shape)
                        for n, v in aux_params.items()):
            return shape
    detail = f" ({last_error})" if last_error else ""
    raise ShapeError(f"the input data has samples of shape {tuple(sample_shape)}, which does "
                     f"not fit the model in {where}{detail}; check that the data is what the "
                     f"model was trained on")


def load_module(checkpoint, epoch, sample_shape, contexts, batch_size):
    """(module, per-sample shape, label name or None, params file) ready for inference."""
    import gradloom as mx
    prefix, epoch = checkpoints.split_checkpoint(checkpoint, epoch, option="CHECKPOINT")
    where = checkpoints.params_path(prefix, epoch)
    symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, epoch)
    unknown = [n for n in list(arg_params) + list(aux_params)
               if n not in symbol.list_arguments() + symbol.list_auxiliary_states()]
    if unknown:
        raise mx.base.ParameterError(f"{where} does not match "
                                     f"{checkpoints.symbol_path(prefix)}: the symbol has no "
                                     f"{', '.join(sorted(unknown))}")
    shape = fit_input_shape(symbol, arg_params, aux_params, sample_shape, where)
    labels = [a for a in symbol.list_arguments() if a.endswith("_label")]
    module = mx.mod.Module(symbol, data_names=("data",), label_names=tuple(labels[:1]),
                           context=contexts)
    label_shapes = [(labels[0], (batch_size,))] if labels else None
    module.bind(data_shapes=[("data", (batch_size,) + shape)], label_shapes=label_shapes,
                for_training=False)
    module.set_params(arg_params, aux_params)
    return module, shape, (labels[0] if labels else None), where
