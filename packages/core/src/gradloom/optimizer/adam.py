"""Adam, AdamW (decoupled weight decay), Adamax and Nadam (Nesterov momentum)."""
import math

from .optimizer import Optimizer, register

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]


class _AdamBase(Optimizer):
    step_is_elementwise = True
    num_state_slots = 2        # mean, variance
    single_state = False
    default_learning_rate = 0.001

    def __init__(self, learning_rate=None, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def _own_hyper_params(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon,
                "lazy_update": self.lazy_update}

    def _update_moments(self, xp, grad, state):
        """``m = b1*m + (1-b1)*gg; v = b2*v + (1-b2)*gg^2`` from the prepared ``grad``
        (left as it is)."""
        mean, var, tmp = state
        b1, b2 = self.beta1, self.beta2
        xp.multiply(mean, b1, out=mean)
        xp.multiply(grad, 1.0 - b1, out=tmp)
        xp.add(mean, tmp, out=mean)
        xp.multiply(grad, grad, out=tmp)
        xp.multiply(tmp, 1.0 - b2, out=tmp)
        xp.multiply(var, b2, out=var)
        xp.add(var, tmp, out=var)

    def _moments_step(self, xp, weight, grad, state, lr, t):
        """Moments from the prepared ``grad``, then ``w -= lr_t * m / (sqrt(v) + eps)``."""
        mean, var, tmp = state
        b1, b2 = self.beta1, self.beta2
        self._update_moments(xp, grad, state)
        # bias correction folded into the step size; eps stays outside it (MXNet)
        coef = math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        xp.sqrt(var, out=tmp)
        xp.add(tmp, self.epsilon, out=tmp)
        xp.divide(mean, tmp, out=tmp)
        xp.multiply(tmp, coef, out=tmp)
        xp.multiply(tmp, lr, out=tmp)
        xp.subtract(weight, tmp, out=weight)


@register
class Adam(_AdamBase):
    """Adam (MXNet's rule): weight decay joins the gradient before clipping.

    ``gg = clip(r*g + wd*w); m = b1*m + (1-b1)*gg; v = b2*v + (1-b2)*gg^2;
    w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v) + eps)``.
    """

    def step(self, xp, weight, grad, state, lr, wd, t):
        tmp = state[-1]
        self._rescale_wd_clip(xp, grad, weight, wd, tmp)
        self._moments_step(xp, weight, grad, state, lr, t)


@register
class AdamW(_AdamBase):
    """Adam with decoupled weight decay (Loshchilov & Hutter).

    ``gg = clip(r*g)``; moments as Adam; ``w -= lr*wd*w`` (with the weight before the
    step), then ``w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v) + eps)``.
    """

    def step(self, xp, weight, grad, state, lr, wd, t):
        tmp = state[-1]
        self._rescale_clip(xp, grad)
        if not (isinstance(wd, (int, float)) and wd == 0):
            xp.multiply(weight, wd, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            xp.subtract(weight, tmp, out=weight)
        self._moments_step(xp, weight, grad, state, lr, t)


@register
class Adamax(Optimizer):
    """AdaMax (Adam with the infinity norm).

    ``gg = clip(r*g + wd*w); m = b1*m + (1-b1)*gg; u = max(b2*u, |gg|);
    w -= lr/(1-b1^t) * m/u``.
    """

    step_is_elementwise = True
    num_state_slots = 2        # mean, infinity norm
    single_state = False
    default_learning_rate = 0.002

    def __init__(self, learning_rate=None, beta1=0.9, beta2=0.999, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def _own_hyper_params(self):
        return {"beta1": self.beta1, "beta2": self.beta2}

    def step(self, xp, weight, grad, state, lr, wd, t):
        mean, norm, tmp = state
        b1 = self.beta1
        self._rescale_wd_clip(xp, grad, weight, wd, tmp)
        xp.multiply(mean, b1, out=mean)
        xp.multiply(grad, 1.0 - b1, out=tmp)
        xp.add(mean, tmp, out=mean)
        xp.multiply(norm, self.beta2, out=norm)
        xp.absolute(grad, out=grad)
        xp.maximum(norm, grad, out=norm)
        xp.divide(mean, norm, out=tmp)
        xp.multiply(tmp, 1.0 / (1.0 - b1 ** t), out=tmp)
        xp.multiply(tmp, lr, out=tmp)
        xp.subtract(weight, tmp, out=weight)


@register
class Nadam(_AdamBase):
    """Adam with Nesterov momentum (Dozat) and MXNet's momentum schedule.

    ``gg = clip(r*g + wd*w); mu_t = b1*(1 - 0.5*0.96^(t*schedule_decay));
    S_t = mu_1*...*mu_t; m, v as Adam; w -= lr*((1-mu_t)/(1-S_t)*gg +
    mu_{t+1}/(1-S_t*mu_{t+1})*m) / (sqrt(v/(1-b2^t)) + eps)``.
    """

    def __init__(self, learning_rate=None, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super().__init__(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                         epsilon=epsilon, **kwargs)
        self.schedule_decay = schedule_decay
        self._schedule = (0, 1.0)   # (t, S_t), kept so consecutive steps cost one product

    def _own_hyper_params(self):
        params = super()._own_hyper_params()
        params["schedule_decay"] = self.schedule_decay
        return params

    def _mu(self, t):
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.schedule_decay))

    def m_schedule(self, t):
        """``S_t``, the product of the momentum schedule up to step ``t``.

        A function of ``t`` alone, so every parameter (and every block of the flat buffer)
        of step ``t`` sees the same value and a resumed run continues it exactly."""
        done, value = self._schedule
        if t < done:
            done, value = 0, 1.0
        for s in range(done + 1, t + 1):
            value *= self._mu(s)
        self._schedule = (t, value)
        return value

    def step(self, xp, weight, grad, state, lr, wd, t):
        mean, var, tmp = state
        self._rescale_wd_clip(xp, grad, weight, wd, tmp)
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        sched = self.m_schedule(t)
        self._update_moments(xp, grad, state)
        # grad <- (1-mu_t)/(1-S_t) * gg + mu_{t+1}/(1-S_t*mu_{t+1}) * m
        xp.multiply(grad, (1.0 - mu_t) / (1.0 - sched), out=grad)
        xp.multiply(mean, mu_next / (1.0 - sched * mu_next), out=tmp)
        xp.add(grad, tmp, out=grad)
        xp.multiply(var, 1.0 / (1.0 - self.beta2 ** t), out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.add(tmp, self.epsilon, out=tmp)
        xp.divide(grad, tmp, out=grad)
        xp.multiply(grad, lr, out=grad)
        xp.subtract(weight, grad, out=weight)
