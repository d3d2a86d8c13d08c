"""Symbol construction: names, attributes, arguments, outputs, arithmetic, scopes."""
import copy

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, UnknownOperatorError, UnsupportedError


@pytest.fixture(autouse=True)
def fresh_names():
    with mx.name.NameManager():
        yield


def mlp():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=128, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def test_lists_follow_mxnet_order():
    net = mlp()
    assert net.list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias",
                                    "softmax_label"]
    assert net.list_outputs() == ["softmax_output"]
    assert net.list_auxiliary_states() == []
    assert net.list_inputs() == net.list_arguments()
    assert net.name == "softmax"


def test_auto_names_use_the_called_name_and_count_per_hint():
    data = mx.sym.Variable("data")
    a = mx.sym.FullyConnected(data, num_hidden=3)
    b = mx.sym.FullyConnected(a, num_hidden=3)
    c = mx.sym.Activation(b, act_type="relu")
    assert (a.name, b.name, c.name) == ("fullyconnected0", "fullyconnected1", "activation0")
    s1 = mx.sym.split(data, num_outputs=2)
    s2 = mx.sym.SliceChannel(data, num_outputs=2)
    assert s1.list_outputs() == ["split0_output0", "split0_output1"]
    assert s2.list_outputs() == ["slicechannel0_output0", "slicechannel0_output1"]
    assert mx.sym.flatten(data).name == "flatten0"
    assert a.list_arguments() == ["data", "fullyconnected0_weight", "fullyconnected0_bias"]


def test_name_manager_scopes_and_prefix():
    data = mx.sym.Variable("data")
    with mx.name.NameManager():
        assert mx.sym.FullyConnected(data, num_hidden=2).name == "fullyconnected0"
    with mx.name.NameManager():
        assert mx.sym.FullyConnected(data, num_hidden=2).name == "fullyconnected0"
    with mx.name.Prefix("net_"):
        fc = mx.sym.FullyConnected(data, num_hidden=2)
        named = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    assert fc.name == "net_fullyconnected0"
    assert named.name == "net_fc"
    assert named.list_arguments() == ["data", "net_fc_weight", "net_fc_bias"]


def test_arithmetic_operators_names_and_ops():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    cases = [(a + b, "_plus0", "elemwise_add"), (a - b, "_minus0", "elemwise_sub"),
             (a * b, "_mul0", "elemwise_mul"), (a / b, "_div0", "elemwise_div"),
             (a + 1, "_plusscalar0", "_plus_scalar"), (a - 1, "_minusscalar0", "_minus_scalar"),
             (1 - a, "_rminusscalar0", "_rminus_scalar"), (a * 2, "_mulscalar0", "_mul_scalar"),
             (a / 2, "_divscalar0", "_div_scalar"), (2 / a, "_rdivscalar0", "_rdiv_scalar"),
             (2 * a, "_mulscalar1", "_mul_scalar"), (-a, "_mulscalar2", "_mul_scalar")]
    for sym, name, op in cases:
        assert sym.name == name
        assert sym._heads[0][0].op.name == op
    assert (a * 2).list_attr() == {"scalar": "2"}
    assert (-a).list_attr() == {"scalar": "-1.0"}
    assert (a + b).list_arguments() == ["a", "b"]


def test_comparison_and_mod_operators_build_mxnets_nodes_and_compute():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    # the operators MXNet 1.9.1 writes for each expression (its JSON, checked there)
    cases = [(a > b, "_greater"), (a > 2, "_greater_scalar"), (2 < a, "_greater_scalar"),
             (a >= b, "_greater_equal"), (a < b, "_lesser"), (a <= 2, "_lesser_equal_scalar"),
             (a == b, "_equal"), (a == 2, "_equal_scalar"), (a != b, "_not_equal"),
             (a != 2, "_not_equal_scalar"), (a % b, "_mod"), (a % 2, "_mod_scalar"),
             (2 % a, "_rmod_scalar"), (abs(a), "abs")]
    for sym, op in cases:
        assert sym._heads[0][0].op.name == op
    x = np.array([-3.5, 3.5, -3.5, 3.5, 2.0], np.float32)
    y = np.array([2, 2, -2, -2, 0], np.float32)
    args = {"a": mx.nd.array(x), "b": mx.nd.array(y)}

    def run(sym):
        names = sym.list_arguments()
        return sym.bind(mx.cpu(), {n: args[n] for n in names}).forward()[0].asnumpy()
    # MXNet's mod: the divisor's sign, and 0 for a zero divisor (its outputs for these inputs)
    np.testing.assert_array_equal(run(a % b), [0.5, 1.5, -1.5, -0.5, 0])
    np.testing.assert_array_equal(run(a % 0), np.zeros(5))
    np.testing.assert_array_equal(run(7 % a), [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(run(a >= b), [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(run(a == 3.5), [0, 1, 0, 1, 0])
    # the gradient of mod for the divisor is -floor(a/b) (MXNet: 2, -1, -1, 2)
    exe = (a % b).bind(mx.cpu(), {"a": mx.nd.array(x[:4]), "b": mx.nd.array(y[:4])},
                       args_grad={"a": mx.nd.zeros(4), "b": mx.nd.zeros(4)})
    exe.forward(is_train=True)
    exe.backward(mx.nd.ones(4))
    np.testing.assert_array_equal(exe.grad_dict["a"].asnumpy(), np.ones(4))
    np.testing.assert_array_equal(exe.grad_dict["b"].asnumpy(), [2, -1, -1, 2])


def test_symbols_stay_hashable_and_refuse_a_truth_value():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    assert {a: 1, b: 2}[a] == 1 and len({a, b, a}) == 2
    assert (a == None) is False and (a != "a") is True  # noqa: E711 (not a number: identity)
    with pytest.raises(UnsupportedError, match="truth value"):
        bool(a == b)
    with pytest.raises(UnsupportedError):
        if a > 1:
            pass


def test_auto_created_variables_copy_op_attributes():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=4, name="fc", lr_mult=0, wd_mult=2)
    attrs = fc.attr_dict()
    expected = {"num_hidden": "4", "__lr_mult__": "0", "__wd_mult__": "2"}
    assert attrs["fc_weight"] == expected
    assert attrs["fc_bias"] == expected
    assert attrs["fc"] == expected
    assert "data" not in attrs  # explicit variables keep only their own attributes
    bn = mx.sym.BatchNorm(data, name="bn")
    attrs = bn.attr_dict()
    assert attrs["bn_moving_mean"]["__init__"] == '["zero", {}]'
    assert attrs["bn_moving_var"]["__init__"] == '["one", {}]'
    assert bn.list_arguments() == ["data", "bn_gamma", "bn_beta"]
    assert bn.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]


def test_no_bias_removes_input_and_kwarg_inputs():
    data = mx.sym.Variable("data")
    w = mx.sym.Variable("shared_w")
    fc = mx.sym.FullyConnected(data=data, weight=w, num_hidden=3, no_bias=True, name="fc")
    assert fc.list_arguments() == ["data", "shared_w"]
    assert fc.attr("no_bias") == "True"


def test_variable_attributes():
    v = mx.sym.Variable("w", shape=(3, 4), lr_mult=0.5, wd_mult=0.0, dtype="float16",
                        init='["one", {}]', stype="row_sparse", __layout__="NC")
    assert v.list_attr() == {"__shape__": "(3, 4)", "__lr_mult__": "0.5", "__wd_mult__": "0.0",
                             "__dtype__": "2", "__init__": '["one", {}]',
                             "__storage_type__": "1", "__layout__": "NC"}
    assert v.attr("lr_mult") == "0.5"
    assert mx.sym.var("x").list_arguments() == ["x"]
    with pytest.raises(AttributeValueError, match="double underscores"):
        mx.sym.Variable("x", foo="bar")

    class Init:
        def dumps(self):
            return '["constant", {"value": 2}]'
    assert mx.sym.Variable("c", init=Init()).attr("__init__") == '["constant", {"value": 2}]'


def test_attr_scope_reaches_ops_and_their_variables():
    data = mx.sym.Variable("data")
    with mx.attribute.AttrScope(ctx_group="dev1", __layout__="NC"):
        v = mx.sym.Variable("v")
        fc = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    assert v.list_attr() == {"__ctx_group__": "dev1", "__layout__": "NC"}
    assert fc.attr_dict()["fc_weight"]["__ctx_group__"] == "dev1"
    assert fc.attr("ctx_group") == "dev1"
    with pytest.raises(AttributeValueError):
        mx.attribute.AttrScope(lr_mult=0.1)


def test_set_attr_and_list_attr():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    fc._set_attr(lr_mult="0.1", __mine__="x")
    assert fc.attr("__lr_mult__") == "0.1"
    assert fc.list_attr() == {"num_hidden": "2", "__lr_mult__": "0.1", "__mine__": "x"}
    with pytest.warns(DeprecationWarning):
        assert fc.list_attr(recursive=True)["fc$num_hidden"] == "2"
    with pytest.raises(AttributeValueError):
        fc._set_attr(lr_mult=0.1)


def test_indexing_internals_children_group():
    net = mlp()
    internals = net.get_internals()
    assert internals.list_outputs() == [
        "data", "fc1_weight", "fc1_bias", "fc1_output", "relu1_output", "fc2_weight",
        "fc2_bias", "fc2_output", "softmax_label", "softmax_output"]
    fc2 = internals["fc2_output"]
    assert fc2.name == "fc2" and fc2.list_outputs() == ["fc2_output"]
    assert internals[3].list_outputs() == ["fc1_output"]
    assert net.get_children().list_outputs() == ["fc2_output", "softmax_label"]
    assert mx.sym.Variable("x").get_children() is None
    group = mx.sym.Group([fc2, net])
    assert group.list_outputs() == ["fc2_output", "softmax_output"]
    assert len(group) == 2 and [s.name for s in group] == ["fc2", "softmax"]
    assert group.name is None
    with pytest.raises(AttributeValueError, match="no output"):
        net["nope"]
    split = mx.sym.split(mx.sym.Variable("d"), num_outputs=3, name="sp")
    assert split[2].list_outputs() == ["sp_output2"]
    with pytest.raises(AttributeValueError, match="group"):
        mx.sym.Activation(split, act_type="relu")


def test_variadic_concat_fills_num_args():
    a, b, c = (mx.sym.Variable(n) for n in "abc")
    cat = mx.sym.concat(a, b, c, dim=1)
    assert cat.name == "concat0"
    assert cat.list_attr() == {"dim": "1", "num_args": "3"}
    assert cat.list_arguments() == ["a", "b", "c"]
    assert cat.infer_shape(a=(2, 3), b=(2, 4), c=(2, 1))[1] == [(2, 8)]


def test_zeros_and_ones():
    z = mx.sym.zeros(shape=(2, 3))
    assert z._heads[0][0].op.name == "_zeros"
    assert z.list_attr() == {"dtype": "float32", "shape": "(2, 3)"}
    assert z.list_arguments() == []
    o = mx.sym.ones(shape=(0, 4), dtype="float64")
    assert o.list_attr()["dtype"] == "float64"


def test_errors_name_what_is_wrong():
    data = mx.sym.Variable("data")
    with pytest.raises(AttributeValueError, match="num_hidden"):
        mx.sym.FullyConnected(data, name="fc")
    with pytest.raises(AttributeValueError, match="foo"):
        mx.sym.FullyConnected(data, num_hidden=2, foo=3)
    with pytest.raises(AttributeValueError, match="not an input"):
        mx.sym.Activation(data, act_type="relu", weight=data)
    with pytest.raises(AttributeValueError, match="act_type.*twice"):
        mx.sym.Activation(3, act_type="relu")  # 3 lands on act_type, MXNet's signature
    with pytest.raises(AttributeError):
        mx.sym.NoSuchOperator
    with pytest.raises(UnknownOperatorError):
        mx.sym.load_json('{"nodes": [{"op": "NoSuchOp", "name": "x", "inputs": []}], '
                         '"heads": [[0, 0, 0]]}')


def test_deepcopy_is_independent():
    net = mlp()
    clone = copy.deepcopy(net)
    clone.get_internals()["fc1_output"]._set_attr(__x__="1")
    assert "__x__" not in net.attr_dict().get("fc1", {})
    assert clone.tojson() != net.tojson()
    assert clone.list_arguments() == net.list_arguments()


def test_long_chain_has_no_recursion_limit():
    x = mx.sym.Variable("x")
    for _ in range(3000):
        x = x + 1
    assert x.list_arguments() == ["x"]
    assert x.infer_shape(x=(2,))[1] == [(2,)]
    assert len(np.unique([n.name for n in x._topo()])) == 3001


def test_power_and_fluent_methods():
    a = mx.sym.Variable("a")
    assert (a ** 2).name == "_powerscalar0" and (a ** 2)._heads[0][0].op.name == "_power_scalar"
    assert (2 ** a)._heads[0][0].op.name == "_rpower_scalar"
    flat = a.reshape(shape=(-1,))
    assert flat.name == "reshape0" and flat.list_attr() == {"shape": "(-1,)"}
    assert flat.infer_shape(a=(2, 3))[1] == [(6,)]
    assert a.flatten().infer_shape(a=(2, 3, 4))[1] == [(2, 12)]


def test_maximum_minimum_power_helpers():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    assert mx.sym.maximum(a, b)._heads[0][0].op.name == "_maximum"
    m = mx.sym.maximum(a, 0)
    assert m.name == "_maximumscalar0" and m.list_attr() == {"scalar": "0"}
    assert mx.sym.minimum(1, a)._heads[0][0].op.name == "_minimum_scalar"
    assert mx.sym.pow(2, a)._heads[0][0].op.name == "_rpower_scalar"
    assert mx.sym.power(a, b)._heads[0][0].op.name == "_power"


def test_compose_replaces_arguments():
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    inner = mx.sym.Activation(mx.sym.Variable("x"), act_type="relu", name="act")
    composed = net(data=inner, name="fc_on_act")
    assert composed.list_arguments() == ["x", "fc_weight", "fc_bias"]
    assert composed.name == "fc_on_act"
    assert net.list_arguments() == ["data", "fc_weight", "fc_bias"] and net.name == "fc"
    assert net(inner).infer_shape(x=(2, 3))[1] == [(2, 4)]
    with pytest.raises(AttributeValueError, match="nope"):
        net(nope=inner)


def test_positional_attribute_values_follow_mxnet_signatures():
    # MXNet's generated functions take inputs first, then attributes in declaration order
    data = mx.sym.var("data")
    assert mx.sym.Dropout(data, 0.5).attr("p") == "0.5"
    fc = mx.sym.FullyConnected(data, 10, name="fc")
    assert fc.attr("num_hidden") == "10"
    assert fc.list_arguments() == ["data", "fc_weight", "fc_bias"]
    assert mx.sym.Activation(data, "relu").attr("act_type") == "relu"
    with pytest.raises(mx.base.AttributeValueError, match="twice"):
        mx.sym.Dropout(data, 0.5, p=0.2)
    with pytest.raises(mx.base.AttributeValueError, match="by keyword"):
        mx.sym.Activation(data, "relu", 1, 2)
