"""Learning-rate schedules (``gradloom.lr_scheduler``), MXNet's classes and numbers.

A scheduler is called with the optimizer's ``num_update`` and returns the learning rate.
``FactorScheduler`` and ``MultiFactorScheduler`` are stateful (their rate only decreases),
so they must be called with non-decreasing ``num_update``, as an optimizer does.
"""
import logging
import math

from .base import ConfigError

__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler",
           "CosineScheduler"]


class LRScheduler:
    """Base class: ``base_lr`` plus an optional warm-up over the first ``warmup_steps``.

    Warm-up goes from ``warmup_begin_lr`` to ``base_lr`` linearly (``'linear'``) or stays at
    ``warmup_begin_lr`` (``'constant'``).
    """

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        self.base_lr = base_lr
        if not isinstance(warmup_steps, int):
            raise ConfigError(f"warmup_steps must be an int, got {warmup_steps!r}")
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if self.warmup_begin_lr > self.warmup_final_lr:
            raise ConfigError(f"Base lr has to be higher than warmup_begin_lr (got base_lr="
                              f"{base_lr}, warmup_begin_lr={warmup_begin_lr})")
        if self.warmup_steps < 0:
            raise ConfigError(f"Warmup steps has to be positive or 0, got {warmup_steps}")
        if warmup_mode not in ("linear", "constant"):
            raise ConfigError(f"Supports only linear and constant modes of warmup, got "
                              f"{warmup_mode!r}")
        self.warmup_mode = warmup_mode

    def reset_base_lr(self, lr):
        """Make ``lr`` the schedule's starting rate (what ``Optimizer(learning_rate=...)``
        does when it differs from ``base_lr``).

        MXNet only overwrote ``base_lr``, which Poly/Cosine schedules and the warm-up
        target ignored; here every value derived from it follows.
        """
        self.base_lr = lr
        self.warmup_final_lr = lr
        if hasattr(self, "base_lr_orig"):
            self.base_lr_orig = lr

    def get_warmup_lr(self, num_update):
        if num_update >= self.warmup_steps:
            raise ConfigError(f"get_warmup_lr called at update {num_update}, after the "
                              f"{self.warmup_steps} warm-up steps")
        if self.warmup_mode == "linear":
            increase = ((self.warmup_final_lr - self.warmup_begin_lr)
                        * float(num_update) / float(self.warmup_steps))
            return self.warmup_begin_lr + increase
        return self.warmup_begin_lr

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        return self.base_lr


class FactorScheduler(LRScheduler):
    """Multiply the rate by ``factor`` every ``step`` updates, never below
    ``stop_factor_lr``."""

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise ConfigError(f"Schedule step must be greater or equal than 1 round, got "
                              f"{step}")
        if factor > 1.0:
            raise ConfigError(f"Factor must be no more than 1 to make lr reduce, got {factor}")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # a loop, not an if: resuming at a large num_update catches up all decays at once
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info("Update[%d]: now learning rate arrived at %0.5e, will not "
                             "change in the future", num_update, self.base_lr)
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e",
                             num_update, self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """Multiply the rate by ``factor`` once after each update count in ``step``."""

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, (list, tuple)) or len(step) < 1:
            raise ConfigError(f"MultiFactorScheduler step must be a non-empty list of "
                              f"update counts, got {step!r}")
        for i, value in enumerate(step):
            if i != 0 and step[i] <= step[i - 1]:
                raise ConfigError(f"Schedule step must be an increasing integer list, got "
                                  f"{list(step)}")
            if value < 1:
                raise ConfigError(f"Schedule step must be greater or equal than 1 round, "
                                  f"got {list(step)}")
        if factor > 1.0:
            raise ConfigError(f"Factor must be no more than 1 to make lr reduce, got {factor}")
        self.step = list(step)
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind < len(self.step):
            if num_update <= self.step[self.cur_step_ind]:
                break
            self.count = self.step[self.cur_step_ind]
            self.cur_step_ind += 1
            self.base_lr *= self.factor
            logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
        return self.base_lr


class _DecayToFinal(LRScheduler):
    """From ``base_lr`` down to ``final_lr`` over the updates after warm-up, following the
    subclass's curve ``_decayed(frac, span)`` (the part of ``span = base_lr - final_lr``
    left at fraction ``frac`` of the way); the rate stays at ``final_lr`` afterwards."""

    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(max_update, int) or max_update < 1:
            raise ConfigError(f"maximum number of updates must be a strictly positive int, "
                              f"got {max_update!r}")
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            frac = float(num_update - self.warmup_steps) / float(self.max_steps)
            self.base_lr = self.final_lr + self._decayed(frac, self.base_lr_orig - self.final_lr)
        return self.base_lr


class PolyScheduler(_DecayToFinal):
    """Polynomial decay from ``base_lr`` to ``final_lr`` over ``max_update`` updates."""

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                         warmup_mode)
        self.power = pwr

    def _decayed(self, frac, span):
        return span * pow(1 - frac, self.power)


class CosineScheduler(_DecayToFinal):
    """Cosine decay from ``base_lr`` to ``final_lr`` over ``max_update`` updates.

    ``CosineScheduler(max_update, base_lr=0.01, final_lr=0, warmup_steps=0,
    warmup_begin_lr=0, warmup_mode='linear')``.
    """

    def _decayed(self, frac, span):
        return span * (1 + math.cos(math.pi * frac)) / 2
