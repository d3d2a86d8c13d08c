"""FTRL-proximal (McMahan et al.), MXNet's formulation."""
from .optimizer import Optimizer, register

__all__ = ["FTRL", "Ftrl"]


@register
class Ftrl(Optimizer):
    """FTRL: ``gg = clip(r*g); z += gg - (sqrt(n + gg^2) - sqrt(n))*w/lr; n += gg^2;
    w = (sign(z)*lamda1 - z) / ((beta + sqrt(n))/lr + wd) * (|z| > lamda1)``."""

    step_is_elementwise = True
    num_state_slots = 2        # z, n
    single_state = False
    default_learning_rate = 0.1

    def __init__(self, lamda1=0.01, learning_rate=None, beta=1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.lamda1 = lamda1
        self.beta = beta

    def _own_hyper_params(self):
        return {"lamda1": self.lamda1, "beta": self.beta}

    def step(self, xp, weight, grad, state, lr, wd, t):
        z, n, tmp = state
        self._rescale_clip(xp, grad)
        # z += sqrt(n_old)*w/lr + gg, then n += gg^2, then z -= sqrt(n_new)*w/lr
        xp.sqrt(n, out=tmp)
        xp.multiply(tmp, weight, out=tmp)
        xp.divide(tmp, lr, out=tmp)
        xp.add(z, tmp, out=z)
        xp.add(z, grad, out=z)
        xp.multiply(grad, grad, out=grad)
        xp.add(n, grad, out=n)
        xp.sqrt(n, out=tmp)
        xp.multiply(tmp, weight, out=tmp)
        xp.divide(tmp, lr, out=tmp)
        xp.subtract(z, tmp, out=z)
        # closed-form weight
        xp.sqrt(n, out=tmp)
        xp.add(tmp, self.beta, out=tmp)
        xp.divide(tmp, lr, out=tmp)
        xp.add(tmp, wd, out=tmp)
        xp.sign(z, out=grad)
        xp.multiply(grad, self.lamda1, out=grad)
        xp.subtract(grad, z, out=grad)
        xp.divide(grad, tmp, out=grad)
        xp.absolute(z, out=tmp)
        xp.greater(tmp, self.lamda1, out=tmp)
        xp.multiply(grad, tmp, out=weight)


FTRL = Ftrl
