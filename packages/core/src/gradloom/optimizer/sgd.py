"""SGD-family optimizers: SGD (alias ccSGD), NAG, Signum, SGLD, and MXNet's Test rule.

Each rule is a handful of in-place calls on raw arrays: nothing is allocated per step, so a
Module that keeps all parameters in one flat buffer updates them in a few numpy/cupy calls.
"""
import math
import numbers

import numpy as np

from .optimizer import Optimizer, register

__all__ = ["SGD", "ccSGD", "NAG", "Signum", "SGLD", "Test"]


@register
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (MXNet's rule).

    ``w = w - lr*(clip(r*g) + wd*w)``; with momentum
    ``m = momentum*m - lr*(clip(r*g) + wd*w); w = w + m``.
    ``lazy_update`` only matters for sparse gradients, which gradloom densifies, so it is
    accepted and ignored.
    """

    step_is_elementwise = True

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update

    @property
    def num_state_slots(self):
        return 1 if self.momentum != 0.0 else 0

    def _own_hyper_params(self):
        return {"momentum": self.momentum, "lazy_update": self.lazy_update}

    def step(self, xp, weight, grad, state, lr, wd, t):
        if (self._clip_value() is None and isinstance(lr, numbers.Real)
                and isinstance(wd, numbers.Real) and wd == 0):
            # nothing between rescaling and the learning rate: fold them into one scalar,
            # which saves a whole pass over the gradient buffer each step
            self._momentum_descend(xp, weight, grad, lr * self.rescale_grad, state)
            return
        tmp = state[-1]
        self._rescale_clip(xp, grad)          # clip before weight decay, as MXNet
        self._add_wd(xp, grad, weight, wd, tmp)
        self._momentum_descend(xp, weight, grad, lr, state)


@register
class ccSGD(SGD):
    """MXNet's deprecated alias of :class:`SGD`."""


@register
class NAG(Optimizer):
    """Nesterov accelerated gradient (MXNet's form, ``m`` being the negative velocity).

    ``gg = clip(r*g) + wd*w; m = momentum*m - lr*gg; w = w + momentum*m - lr*gg``, which is
    MXNet's ``w - momentum*m_old + (momentum+1)*(momentum*m_old - lr*gg)`` rearranged.
    Without momentum it is plain SGD.
    """

    step_is_elementwise = True

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    @property
    def num_state_slots(self):
        return 1 if self.momentum != 0.0 else 0

    def _own_hyper_params(self):
        return {"momentum": self.momentum}

    def step(self, xp, weight, grad, state, lr, wd, t):
        tmp = state[-1]
        self._rescale_clip(xp, grad)
        self._add_wd(xp, grad, weight, wd, tmp)
        xp.multiply(grad, lr, out=grad)                  # grad = lr*gg
        xp.subtract(weight, grad, out=weight)
        if self.momentum != 0.0:
            mom = state[0]
            xp.multiply(mom, self.momentum, out=mom)
            xp.subtract(mom, grad, out=mom)
            xp.multiply(mom, self.momentum, out=tmp)
            xp.add(weight, tmp, out=weight)


@register
class Signum(Optimizer):
    """Signum / signSGD: steps by the sign of the (momentum-averaged) gradient.

    With momentum: ``m = mu*m - (1-mu)*(clip(r*g) + wd*w); w = (1 - lr*wd_lh)*w +
    lr*sign(m)``. Without: ``w = (1 - lr*wd)*w - lr*sign(g)``.
    """

    step_is_elementwise = True

    def __init__(self, learning_rate=None, momentum=0.9, wd_lh=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    @property
    def num_state_slots(self):
        return 1 if self.momentum != 0.0 else 0

    def _own_hyper_params(self):
        return {"momentum": self.momentum, "wd_lh": self.wd_lh}

    def step(self, xp, weight, grad, state, lr, wd, t):
        tmp = state[-1]
        if self.momentum != 0.0:
            mom = state[0]
            self._rescale_clip(xp, grad)
            self._add_wd(xp, grad, weight, wd, tmp)
            xp.multiply(grad, 1.0 - self.momentum, out=grad)
            xp.multiply(mom, self.momentum, out=mom)
            xp.subtract(mom, grad, out=mom)
            if self.wd_lh:
                xp.multiply(weight, self.wd_lh, out=tmp)
                xp.multiply(tmp, lr, out=tmp)
                xp.subtract(weight, tmp, out=weight)
            xp.sign(mom, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            xp.add(weight, tmp, out=weight)
        else:
            # the sign makes rescaling and (positive) clipping irrelevant
            xp.sign(grad, out=grad)
            self._add_wd(xp, grad, weight, wd, tmp)
            xp.multiply(grad, lr, out=grad)
            xp.subtract(weight, grad, out=weight)


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics: a half gradient step plus Gaussian noise.

    ``w += -lr/2*(clip(r*g) + wd*w) + N(0, sqrt(lr))``. The noise comes from the host
    generator (``gradloom.random.seed``), drawn for the whole buffer at once so a step is
    reproducible, which is why the rule is not run block by block.
    """

    def step(self, xp, weight, grad, state, lr, wd, t):
        from ..random import host_rng
        tmp = state[-1]
        self._rescale_clip(xp, grad)
        self._add_wd(xp, grad, weight, wd, tmp)
        xp.multiply(grad, lr, out=grad)
        xp.multiply(grad, 0.5, out=grad)
        xp.subtract(weight, grad, out=weight)
        noise = host_rng().standard_normal(weight.shape, dtype=np.float32)
        xp.copyto(tmp, xp.asarray(noise), casting="unsafe")
        xp.multiply(tmp, math.sqrt(lr) if isinstance(lr, numbers.Real) else xp.sqrt(lr),
                    out=tmp)
        xp.add(weight, tmp, out=weight)


@register
class Test(Optimizer):
    """MXNet's ``Test`` optimizer, for kvstore tests: ``w += r*g``; its state copies ``w``."""

    step_is_elementwise = True
    num_state_slots = 1
    single_state = True

    def step(self, xp, weight, grad, state, lr, wd, t):
        xp.multiply(grad, self.rescale_grad, out=grad)
        xp.add(weight, grad, out=weight)
        xp.copyto(state[0], weight)
