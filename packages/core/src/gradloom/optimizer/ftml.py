"""FTML: Follow the Moving Leader (Zheng & Kwok, 2017), MXNet's formulation."""
from .optimizer import Optimizer, register

__all__ = ["FTML"]


@register
class FTML(Optimizer):
    """``gg = clip(r*g + wd*w); v = b2*v + (1-b2)*gg^2;
    d_t = (1-b1^t)/lr * (sqrt(v/(1-b2^t)) + eps); z = b1*z + (1-b1)*gg - (d_t - b1*d)*w;
    d = d_t; w = -z/d_t``."""

    step_is_elementwise = True
    num_state_slots = 3        # d, v, z
    single_state = False

    def __init__(self, beta1=0.6, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def _own_hyper_params(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def step(self, xp, weight, grad, state, lr, wd, t):
        d, v, z, tmp = state
        b1, b2 = self.beta1, self.beta2
        self._rescale_wd_clip(xp, grad, weight, wd, tmp)
        xp.multiply(grad, grad, out=tmp)
        xp.multiply(tmp, 1.0 - b2, out=tmp)
        xp.multiply(v, b2, out=v)
        xp.add(v, tmp, out=v)
        xp.multiply(v, 1.0 / (1.0 - b2 ** t), out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.add(tmp, self.epsilon, out=tmp)
        xp.multiply(tmp, 1.0 - b1 ** t, out=tmp)
        xp.divide(tmp, lr, out=tmp)                  # tmp = d_t
        xp.multiply(z, b1, out=z)
        xp.multiply(grad, 1.0 - b1, out=grad)
        xp.add(z, grad, out=z)
        xp.multiply(d, b1, out=d)
        xp.subtract(tmp, d, out=d)
        xp.multiply(d, weight, out=d)
        xp.subtract(z, d, out=z)
        xp.copyto(d, tmp)
        xp.divide(z, tmp, out=weight)
        xp.negative(weight, out=weight)
