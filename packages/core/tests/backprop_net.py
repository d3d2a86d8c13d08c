"""The 2-2-2 sigmoid network with known weights of test case A6 (the classic worked
backpropagation example), used by the module-lifecycle and monitor tests."""
import gradloom as mx


def backprop_net():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=2, name="fc_0"),
                          act_type="sigmoid", name="act_0")
    h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=2, name="fc_1"),
                          act_type="sigmoid", name="act_1")
    return mx.sym.LinearRegressionOutput(h, name="softmax", grad_scale=2)


def backprop_params():
    """Fresh NDArrays of the example's weights (a test may change them in place)."""
    return {"fc_0_weight": mx.nd.array([[.15, .20], [.25, .30]]),
            "fc_0_bias": mx.nd.array([.35, .35]),
            "fc_1_weight": mx.nd.array([[.40, .45], [.50, .55]]),
            "fc_1_bias": mx.nd.array([.60, .60])}
