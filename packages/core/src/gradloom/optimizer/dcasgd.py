"""DCASGD: delay-compensated asynchronous SGD (Zheng et al., 2016)."""
from .optimizer import Optimizer, register

__all__ = ["DCASGD"]


@register
class DCASGD(Optimizer):
    """``gg = clip(r*g); step = -lr*(gg + wd*w + lamda*gg^2*(w - w_prev))``; with momentum
    ``m = momentum*m + step; w += m``, else ``w += step``; ``w_prev`` is the weight before
    the update (it starts as a copy of the initial weight)."""

    step_is_elementwise = True
    single_state = False

    def __init__(self, momentum=0.0, lamda=0.04, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lamda = lamda

    @property
    def num_state_slots(self):
        return 2 if self.momentum != 0.0 else 1     # (momentum,) previous weight

    def _init_slots(self, xp, weight):
        slots = [xp.zeros_like(weight)] if self.momentum != 0.0 else []
        return slots + [xp.array(weight, copy=True)]

    def _own_hyper_params(self):
        return {"momentum": self.momentum, "lamda": self.lamda}

    def step(self, xp, weight, grad, state, lr, wd, t):
        prev, tmp = state[-2], state[-1]
        self._rescale_clip(xp, grad)
        # tmp = lamda * gg^2 * (w - prev), then the whole bracket into grad
        xp.subtract(weight, prev, out=tmp)
        xp.multiply(tmp, grad, out=tmp)
        xp.multiply(tmp, grad, out=tmp)
        xp.multiply(tmp, self.lamda, out=tmp)
        xp.add(grad, tmp, out=grad)
        self._add_wd(xp, grad, weight, wd, tmp)
        xp.copyto(prev, weight)
        self._momentum_descend(xp, weight, grad, lr, state)
