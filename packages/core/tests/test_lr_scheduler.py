"""Learning-rate schedulers: MXNet's numbers (test-cases H3) and argument checks."""
import math

import pytest

import gradloom as mx
from gradloom.base import ConfigError
from gradloom.lr_scheduler import (CosineScheduler, FactorScheduler, LRScheduler,
                                   MultiFactorScheduler, PolyScheduler)


def test_factor_scheduler_with_constant_warmup():
    f = FactorScheduler(step=100, factor=0.1, stop_factor_lr=1e-4, base_lr=1,
                        warmup_steps=20, warmup_begin_lr=0.1, warmup_mode="constant")
    assert f(0) == 0.1
    assert f(10) == pytest.approx(0.1)
    assert f(21) == 1
    assert f(101) == pytest.approx(0.1)
    assert f(201) == pytest.approx(0.01)
    assert f(1000) == pytest.approx(1e-4)       # floored at stop_factor_lr


def test_factor_scheduler_catches_up_when_resuming():
    f = FactorScheduler(step=10, factor=0.5, base_lr=1.0)
    assert f(10) == 1.0            # decays only strictly after count + step
    assert f(35) == pytest.approx(0.125)
    assert f(36) == pytest.approx(0.125)


def test_multifactor_scheduler_with_linear_warmup():
    f = MultiFactorScheduler([15, 25], 0.1, base_lr=0.1, warmup_steps=10,
                             warmup_begin_lr=0.05, warmup_mode="linear")
    assert f(0) == 0.05
    assert f(5) == pytest.approx(0.075)
    assert f(15) == pytest.approx(0.1)
    assert f(16) == pytest.approx(0.01)
    assert f(20) == pytest.approx(0.01)
    assert f(26) == pytest.approx(0.001)
    assert f(100) == pytest.approx(0.001)


def test_poly_scheduler():
    f = PolyScheduler(1000, base_lr=3, pwr=2, final_lr=0, warmup_steps=100,
                      warmup_begin_lr=0, warmup_mode="linear")
    assert f(0) == pytest.approx(0)
    assert f(50) == pytest.approx(1.5)
    assert f(100) == pytest.approx(3)
    assert f(101) < f(100)
    assert f(500) < 1.6
    assert f(550) == pytest.approx(3 * (1 - 450 / 900) ** 2)
    assert f(1000) == pytest.approx(0)
    assert f(2000) == pytest.approx(0)           # keeps the last value


def test_cosine_scheduler():
    f = CosineScheduler(1000, base_lr=3, final_lr=0.1)
    assert f(0) == pytest.approx(3)
    assert f(500) > 1.5
    assert f(250) == pytest.approx(0.1 + 2.9 * (1 + math.cos(math.pi / 4)) / 2)
    assert f(1000) == pytest.approx(0.1)


def test_base_scheduler_and_reset():
    s = LRScheduler(base_lr=0.5, warmup_steps=4, warmup_begin_lr=0.1)
    assert s(2) == pytest.approx(0.3)
    assert s(4) == 0.5
    s.reset_base_lr(1.0)
    assert s(2) == pytest.approx(0.55)
    p = PolyScheduler(10, base_lr=1.0, pwr=1)
    p.reset_base_lr(2.0)
    assert p(5) == pytest.approx(1.0)


@pytest.mark.parametrize("make", [
    lambda: LRScheduler(base_lr=0.1, warmup_begin_lr=0.2),
    lambda: LRScheduler(warmup_steps=-1),
    lambda: LRScheduler(warmup_mode="cubic"),
    lambda: FactorScheduler(step=0),
    lambda: FactorScheduler(step=5, factor=1.5),
    lambda: MultiFactorScheduler([5, 5]),
    lambda: MultiFactorScheduler([0, 5]),
    lambda: MultiFactorScheduler([5], factor=2),
    lambda: PolyScheduler(0),
    lambda: CosineScheduler(0),
])
def test_invalid_arguments_raise_config_error(make):
    with pytest.raises(ConfigError):
        make()


def test_optimizer_uses_scheduler_with_num_update():
    sched = mx.lr_scheduler.MultiFactorScheduler([2, 4], factor=0.1, base_lr=1.0)
    opt = mx.opt.create("sgd", lr_scheduler=sched)
    seen = []
    for _ in range(6):
        lr, _t = opt.begin_step([0])
        seen.append(lr)
    assert seen == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
