"""``mx.profiler`` as MXNet's image-classification ``common/fit.py`` drives it.

fit.py (``--profile-worker-suffix``) calls ``set_config(filename=..., profile_all=True,
profile_process='worker')`` and ``set_state(state='run', profile_process='worker')`` and
never calls ``dump()``: MXNet writes the file when the process ends.
"""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradloom as mx
from gradloom import profiler
from gradloom.base import ConfigError, StateError


@pytest.fixture(autouse=True)
def _stopped():
    profiler.set_state("stop")
    profiler.set_config(profile_all=False, profile_symbolic=False)
    profiler.dumps(reset=True)
    yield
    profiler.set_state("stop")
    profiler.set_config(profile_all=False, profile_symbolic=False)
    profiler.dumps(reset=True)


def _mlp_executor():
    data = mx.sym.var("data")
    net = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    net = mx.sym.SoftmaxOutput(mx.sym.Activation(net, act_type="relu"), name="softmax")
    exe = net.simple_bind(mx.cpu(), data=(3, 5))
    rng = np.random.default_rng(0)
    for name, arr in exe.arg_dict.items():
        arr[:] = rng.standard_normal(arr.shape).astype(np.float32)
    exe.arg_dict["softmax_label"][:] = np.array([0, 1, 2], dtype=np.float32)
    return exe


def test_profiler_is_a_top_level_module():
    assert mx.profiler is profiler


def test_running_profiler_times_each_operator_and_dumps_chrome_trace(tmp_path):
    exe = _mlp_executor()  # bound before profiling starts: a state change re-plans it
    exe.forward(is_train=True)
    exe.backward()
    before = exe.outputs[0].asnumpy().copy()
    fname = tmp_path / "prof.json"
    profiler.set_config(filename=str(fname), profile_all=True, profile_process="worker")
    profiler.set_state(state="run", profile_process="worker")
    for _ in range(2):
        exe.forward(is_train=True)
        exe.backward()
    profiler.set_state("stop")
    exe.forward(is_train=True)  # not recorded: the state is 'stop'
    np.testing.assert_array_equal(exe.outputs[0].asnumpy(), before)  # timing changes nothing

    table = profiler.dumps()
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()
            if line.startswith(("FullyConnected", "_backward_", "Activation", "Softmax"))}
    assert rows["FullyConnected"][0] == "2"
    assert rows["_backward_FullyConnected"][0] == "2"
    assert rows["SoftmaxOutput"][0] == "2"
    assert "operator" in table and "Avg Time (ms)" in table

    profiler.dump()
    trace = json.loads(fname.read_text())
    ops = [e for e in trace["traceEvents"] if e.get("cat") == "operator"]
    assert len(ops) == 12  # 3 operators x (forward + backward) x 2 steps
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in ops)
    assert trace["displayTimeUnit"] == "ms"
    assert profiler.dumps().count("FullyConnected") == 0  # dump(finished=True) cleared them


def test_profiler_writes_at_exit_like_mxnet(tmp_path):
    # fit.py sets the state to 'run' and never dumps; the trace must still appear
    fname = tmp_path / "worker.json"
    script = textwrap.dedent(f"""
        import numpy as np
        import gradloom as mx
        mx.profiler.set_config(filename={str(fname)!r}, profile_all=True,
                               profile_process='worker')
        mx.profiler.set_state(state='run', profile_process='worker')
        x = mx.sym.var('data')
        exe = mx.sym.FullyConnected(x, num_hidden=2, name='fc').simple_bind(
            mx.cpu(), data=(1, 3))
        exe.forward()
        mx.profiler.set_state(state='run', profile_process='worker')
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    names = [e["name"] for e in json.loads(fname.read_text())["traceEvents"]]
    assert names.count("FullyConnected") == 1


def test_user_objects_record_spans_counters_and_markers(tmp_path):
    profiler.set_config(filename=str(tmp_path / "u.json"))
    profiler.set_state("run")
    domain = profiler.Domain("io")
    with domain.new_task("decode"):
        pass
    counter = domain.new_counter("queued", 3)
    counter += 2
    domain.new_marker("epoch").mark()
    profiler.pause()
    with domain.new_frame("hidden"):
        pass
    profiler.resume()
    profiler.dump()
    events = json.loads((tmp_path / "u.json").read_text())["traceEvents"]
    by_name = {}
    for e in events:
        by_name.setdefault(e["name"], []).append(e)
    assert by_name["decode"][0]["cat"] == "io:task"
    assert [e["args"]["queued"] for e in by_name["queued"]] == [3, 5]
    assert by_name["epoch"][0]["ph"] == "i"
    assert "hidden" not in by_name  # recorded while paused: dropped
    task = domain.new_task("t")
    with pytest.raises(StateError, match="start"):
        task.stop()


def test_profiler_errors_say_what_to_use():
    with pytest.raises(ConfigError, match="profile_process='worker'"):
        profiler.set_config(filename="x.json", profile_process="server")
    with pytest.raises(ConfigError, match="unknown key"):
        profiler.set_config(profile_everything=True)
    with pytest.raises(ConfigError, match="'run' or 'stop'"):
        profiler.set_state("go")
