"""Per-coordinate adaptive optimizers: RMSProp (plain and centered), AdaGrad, AdaDelta."""
from .optimizer import Optimizer, register

__all__ = ["RMSProp", "AdaGrad", "AdaDelta"]


@register
class RMSProp(Optimizer):
    """RMSProp; ``centered=True`` is Graves' variant with a mean-gradient estimate.

    ``gg = clip(r*g + wd*w); n = (1-g1)*gg^2 + g1*n``; plain: ``w -= lr*gg/sqrt(n + eps)``;
    centered: ``gbar = (1-g1)*gg + g1*gbar; delta = g2*delta - lr*gg/sqrt(n - gbar^2 +
    eps); w += delta``. ``clip_weights`` then clamps the weights.
    """

    step_is_elementwise = True
    single_state = False
    default_learning_rate = 0.001

    def __init__(self, learning_rate=None, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.epsilon = epsilon
        self.centered = centered
        self.clip_weights = clip_weights

    @property
    def num_state_slots(self):
        return 3 if self.centered else 1       # n (, gbar, delta)

    def _own_hyper_params(self):
        return {"gamma1": self.gamma1, "gamma2": self.gamma2, "epsilon": self.epsilon,
                "centered": self.centered, "clip_weights": self.clip_weights}

    def step(self, xp, weight, grad, state, lr, wd, t):
        tmp = state[-1]
        n = state[0]
        g1 = self.gamma1
        self._rescale_wd_clip(xp, grad, weight, wd, tmp)
        xp.multiply(grad, grad, out=tmp)
        xp.multiply(tmp, 1.0 - g1, out=tmp)
        xp.multiply(n, g1, out=n)
        xp.add(n, tmp, out=n)
        if self.centered:
            gbar, delta = state[1], state[2]
            xp.multiply(gbar, g1, out=gbar)
            xp.multiply(grad, 1.0 - g1, out=tmp)
            xp.add(gbar, tmp, out=gbar)
            xp.multiply(gbar, gbar, out=tmp)
            xp.subtract(n, tmp, out=tmp)
            xp.add(tmp, self.epsilon, out=tmp)
            xp.sqrt(tmp, out=tmp)
            xp.divide(grad, tmp, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            xp.multiply(delta, self.gamma2, out=delta)
            xp.subtract(delta, tmp, out=delta)
            xp.add(weight, delta, out=weight)
        else:
            xp.add(n, self.epsilon, out=tmp)
            xp.sqrt(tmp, out=tmp)
            xp.divide(grad, tmp, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            xp.subtract(weight, tmp, out=weight)
        if self.clip_weights:
            xp.clip(weight, -self.clip_weights, self.clip_weights, out=weight)


@register
class AdaGrad(Optimizer):
    """AdaGrad: ``gg = clip(r*g); h += gg^2; w -= lr*(gg/sqrt(h + eps) + wd*w)``."""

    step_is_elementwise = True
    num_state_slots = 1        # squared-gradient history

    def __init__(self, eps=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def _own_hyper_params(self):
        return {"eps": self.float_stable_eps}

    def step(self, xp, weight, grad, state, lr, wd, t):
        hist, tmp = state
        self._rescale_clip(xp, grad)
        xp.multiply(grad, grad, out=tmp)
        xp.add(hist, tmp, out=hist)
        xp.add(hist, self.float_stable_eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(grad, tmp, out=grad)
        self._add_wd(xp, grad, weight, wd, tmp)
        xp.multiply(grad, lr, out=grad)
        xp.subtract(weight, grad, out=weight)


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler). The learning rate is not used at all, as in MXNet.

    ``gg = clip(r*g); acc_g = rho*acc_g + (1-rho)*gg^2; d = sqrt(acc_d + eps)/sqrt(acc_g +
    eps)*gg; acc_d = rho*acc_d + (1-rho)*d^2; w -= d + wd*w``. Unlike MXNet the caller's
    gradient array is not clipped in place.
    """

    step_is_elementwise = True
    num_state_slots = 2        # acc_g, acc_delta
    single_state = False

    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _own_hyper_params(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def step(self, xp, weight, grad, state, lr, wd, t):
        acc_g, acc_d, tmp = state
        rho, eps = self.rho, self.epsilon
        self._rescale_clip(xp, grad)
        xp.multiply(grad, grad, out=tmp)
        xp.multiply(tmp, 1.0 - rho, out=tmp)
        xp.multiply(acc_g, rho, out=acc_g)
        xp.add(acc_g, tmp, out=acc_g)
        xp.add(acc_d, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.multiply(grad, tmp, out=grad)
        xp.add(acc_g, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(grad, tmp, out=grad)               # grad = d
        xp.multiply(grad, grad, out=tmp)
        xp.multiply(tmp, 1.0 - rho, out=tmp)
        xp.multiply(acc_d, rho, out=acc_d)
        xp.add(acc_d, tmp, out=acc_d)
        self._add_wd(xp, grad, weight, wd, tmp)
        xp.subtract(weight, grad, out=weight)
