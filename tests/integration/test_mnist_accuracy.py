"""Module.fit on real MNIST reaches MXNet's accuracy (MLP and LeNet)."""
import logging
import os
import time

import pytest

import gradloom as mx

DATA = os.environ.get("GRADLOOM_MNIST_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist"))

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")),
    reason=f"MNIST files not found in {DATA} (set GRADLOOM_MNIST_DIR)")


def _iters(batch_size, flat):
    train = mx.io.MNISTIter(image=os.path.join(DATA, "train-images-idx3-ubyte.gz"),
                            label=os.path.join(DATA, "train-labels-idx1-ubyte.gz"),
                            batch_size=batch_size, shuffle=True, flat=flat, seed=1,
                            silent=True)
    val = mx.io.MNISTIter(image=os.path.join(DATA, "t10k-images-idx3-ubyte.gz"),
                          label=os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"),
                          batch_size=1000, shuffle=False, flat=flat, silent=True)
    return train, val


def mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=128, name="fc1"),
                          act_type="relu")
    h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=64, name="fc2"),
                          act_type="relu")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=10, name="fc3"),
                                name="softmax")


def lenet():
    data = mx.sym.Variable("data")
    h = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
    h = mx.sym.Pooling(mx.sym.Activation(h, act_type="tanh"), pool_type="max",
                       kernel=(2, 2), stride=(2, 2))
    h = mx.sym.Convolution(h, kernel=(5, 5), num_filter=50, name="conv2")
    h = mx.sym.Pooling(mx.sym.Activation(h, act_type="tanh"), pool_type="max",
                       kernel=(2, 2), stride=(2, 2))
    h = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.flatten(h), num_hidden=500,
                                                name="fc1"), act_type="tanh")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=10, name="fc2"),
                                name="softmax")


def _fit(sym, flat, epochs, batch_size, lr, decay_every=2):
    logging.getLogger().setLevel(logging.INFO)
    mx.random.seed(42)
    train, val = _iters(batch_size, flat)
    mod = mx.mod.Module(sym, context=mx.cpu())
    tic = time.time()
    mod.fit(train, eval_data=val, num_epoch=epochs, optimizer="sgd",
            optimizer_params={"learning_rate": lr, "momentum": 0.9, "wd": 1e-4,
                              "lr_scheduler": mx.lr_scheduler.FactorScheduler(
                                  step=decay_every * (60000 // batch_size), factor=0.3,
                                  base_lr=lr)},
            initializer=mx.init.Xavier(factor_type="in", magnitude=2.34))
    acc = dict(mod.score(val, "acc"))["accuracy"]
    print(f"accuracy {acc:.4f} after {epochs} epochs in {time.time() - tic:.1f} s")
    return acc


@pytest.mark.slow
def test_mlp_reaches_975():
    assert _fit(mlp(), flat=True, epochs=6, batch_size=100, lr=0.1) >= 0.975


@pytest.mark.slow
def test_lenet_reaches_988():
    assert _fit(lenet(), flat=False, epochs=3, batch_size=100, lr=0.05) >= 0.988
