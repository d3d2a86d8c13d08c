"""Contexts resolve through the backend registry and behave like MXNet's."""
import gradloom as mx


def test_context_identity_and_repr():
    assert mx.cpu(1) == mx.Context("cpu", 1) == mx.Context(mx.cpu(1))
    assert mx.cpu() != mx.cpu(1)
    assert repr(mx.gpu(2)) == "gpu(2)"
    assert mx.Context(1, 0) == mx.cpu(0)  # MXNet's numeric device type
    assert mx.cpu_pinned(0) == mx.cpu(0)
    assert len({mx.cpu(0), mx.Context("cpu", 0)}) == 1


def test_with_context_sets_current_context():
    assert mx.current_context() == mx.cpu(0)
    with mx.cpu(3):
        assert mx.current_context() == mx.cpu(3)
        with mx.Context("cpu", 5):
            assert mx.current_context() == mx.cpu(5)
        assert mx.current_context() == mx.cpu(3)
    assert mx.current_context() == mx.cpu(0)


def test_cpu_context_has_numpy_backend():
    import numpy as np
    backend = mx.cpu(0).backend
    assert backend.xp is np and backend.is_available()
    assert mx.num_gpus() == 0 or mx.gpu(0).backend.is_available()


def test_test_utils_default_context_follows_set_default_context():
    import threading
    assert mx.test_utils.default_context() == mx.cpu(0)
    seen = []
    thread = threading.Thread(target=lambda: (mx.test_utils.set_default_context(mx.cpu(1)),
                                              seen.append(mx.test_utils.default_context()),
                                              seen.append(mx.nd.zeros((1,)).context)))
    thread.start()
    thread.join()
    assert seen == [mx.cpu(1), mx.cpu(1)]
    assert mx.test_utils.default_context() == mx.cpu(0)   # per thread, as MXNet's
