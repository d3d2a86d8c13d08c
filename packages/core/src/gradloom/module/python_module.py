"""``PythonModule`` (a module written in plain Python) and ``PythonLossModule`` (a loss
head whose gradient is a Python function).

Unlike MXNet, ``bind`` sets ``binded`` and ``init_params``/``init_optimizer`` set their flags,
so these modules also work outside a ``SequentialModule`` and report their state truthfully.
"""
import logging

from ..base import ParameterError, StateError
from ..io.desc import normalise_descs
from .base_module import BaseModule
from .errors import NotForTrainingError, need_bound

__all__ = ["PythonModule", "PythonLossModule"]


class PythonModule(BaseModule):
    """Base of modules computed in Python: no parameters, no optimizer.

    Subclasses implement ``_compute_output_shapes()``, ``forward``, ``backward``,
    ``get_outputs`` and ``get_input_grads``.
    """

    def __init__(self, data_names, label_names, output_names, logger=logging):
        super().__init__(logger=logger)
        self._data_names = list(data_names)
        self._label_names = list(label_names) if label_names is not None else []
        self._output_names = list(output_names)
        self._data_shapes = None
        self._label_shapes = None
        self._output_shapes = None

    # -- information ----------------------------------------------------------------------
    @property
    def data_names(self):
        return self._data_names

    @property
    def output_names(self):
        return self._output_names

    @property
    def output_shapes(self):
        need_bound(self, "output_shapes")
        return self._output_shapes

    # -- parameters and optimizer: there are none ------------------------------------------
    def get_params(self):
        return {}, {}

    def init_params(self, initializer=None, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Nothing to initialise; marks the module initialised."""
        self.params_initialized = True

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Nothing to optimise; marks the optimizer initialised."""
        self.optimizer_initialized = True

    def update(self):
        """No parameters, so nothing to update."""

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """``eval_metric.update(labels, outputs)``; nothing when bound without labels."""
        if self._label_shapes is None:
            return
        if pre_sliced:
            raise StateError("PythonModule does not support pre-sliced labels; pass the "
                             "whole batch's labels")
        eval_metric.update(labels, self.get_outputs())

    # -- binding --------------------------------------------------------------------------
    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if grad_req != "write":
            raise ParameterError(f"Python modules only support grad_req='write', got "
                                 f"{grad_req!r}")
        if shared_module is not None:
            raise ParameterError("shared_module is not supported by Python modules")
        if inputs_need_grad and not for_training:
            raise ParameterError("inputs_need_grad=True needs for_training=True")
        data_shapes = normalise_descs(data_shapes, "data_shapes")
        label_shapes = normalise_descs(label_shapes, "label_shapes")
        names = [d.name for d in data_shapes]
        if names != self._data_names:
            raise ParameterError(f"data_shapes name {names} but the module's data_names are "
                                 f"{self._data_names} (same names, same order)")
        if label_shapes is not None:
            lnames = [d.name for d in label_shapes]
            if lnames != self._label_names:
                raise ParameterError(f"label_shapes name {lnames} but the module's "
                                     f"label_names are {self._label_names}")
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._data_shapes = data_shapes
        self._label_shapes = label_shapes
        self._output_shapes = self._compute_output_shapes()
        self.binded = True

    def _compute_output_shapes(self):
        """``[(output_name, shape)]`` from ``self._data_shapes`` (subclasses define it)."""
        raise NotImplementedError(f"{type(self).__name__} must define "
                                  f"_compute_output_shapes()")

    def install_monitor(self, mon):
        """Python modules have no executors to monitor; the monitor is kept but unused."""
        self._monitor = mon


class PythonLossModule(PythonModule):
    """A loss head: output = its input scores; ``backward`` gives
    ``grad_func(scores, labels)`` as the input gradient."""

    def __init__(self, name="pyloss", data_names=("data",), label_names=("softmax_label",),
                 logger=logging, grad_func=None):
        super().__init__(data_names, label_names, [name + "_output"], logger=logger)
        self._name = name
        if len(self._data_names) != 1 or len(self._label_names) != 1:
            raise ParameterError("PythonLossModule takes exactly one data and one label input")
        if grad_func is not None and not callable(grad_func):
            raise ParameterError("grad_func must be callable (scores, labels) -> gradient")
        self._grad_func = grad_func
        self._scores = None
        self._labels = None
        self._scores_grad = None

    def _compute_output_shapes(self):
        return [(self._name + "_output", tuple(self._data_shapes[0].shape))]

    def forward(self, data_batch, is_train=None):
        need_bound(self, "forward()")
        self._scores = data_batch.data[0]
        if is_train is None:
            is_train = self.for_training
        if is_train:
            labels = getattr(data_batch, "label", None)
            if not labels:
                raise StateError("training forward on a batch without labels: a loss module "
                                 "needs the labels")
            self._labels = labels[0]

    def get_outputs(self, merge_multi_context=True):
        if not merge_multi_context:
            raise ParameterError("PythonLossModule has one device: call "
                                 "get_outputs(merge_multi_context=True)")
        return [self._scores]

    def backward(self, out_grads=None):
        if out_grads is not None:
            raise ParameterError("PythonLossModule is a loss head: backward() takes no "
                                 "out_grads")
        if not self.for_training:
            raise NotForTrainingError("re-bind with for_training=True to run backward")
        self._backward_impl()

    def _backward_impl(self):
        """Compute ``self._scores_grad``; the default calls ``grad_func``."""
        if self._grad_func is None:
            raise ParameterError("PythonLossModule has no grad_func: pass grad_func=(scores, "
                                 "labels) -> gradient, or override _backward_impl")
        from ..ndarray import NDArray, array
        grad = self._grad_func(self._scores, self._labels)
        if not isinstance(grad, NDArray):
            grad = array(grad)
        self._scores_grad = grad

    def get_input_grads(self, merge_multi_context=True):
        if not merge_multi_context:
            raise ParameterError("PythonLossModule has one device: call "
                                 "get_input_grads(merge_multi_context=True)")
        return [self._scores_grad]
