"""Unit tests for core.basics.activations: closed-form derivatives against autograd, the textbook
behaviour of deep nets at initialisation (sigmoid + N(0,1) saturates, small init collapses the
activations and gradients, Xavier + tanh and Kaiming + ReLU keep them O(1), BatchNorm/LayerNorm
repair bad inits, negative biases kill ReLUs), the gradients against a hand computation, and the
normalisation layers' axes."""
import numpy as np
import pytest
import torch

from core.basics import activations as A
from core.basics.activations import (ACTIVATIONS, INITS, NORMALISATION_TABLE, NORMS, DeepNetConfig, curve,
                                     layer_statistics, normalisation_check)

XS = np.concatenate([np.linspace(-8, 8, 161), [-50.0, -1e-3, 0.0, 1e-3, 50.0]])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_curve_and_derivative_equal_torch_autograd(name):
    values, deriv = curve(name, XS)
    x = torch.tensor(XS, requires_grad=True)
    y = A.activation_module(name).double()(x)
    y.sum().backward()
    np.testing.assert_allclose(values, y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(deriv, x.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert values.dtype == deriv.dtype == np.float64 and values.shape == XS.shape


def test_saturating_derivatives_vanish():
    sig, dsig = curve("sigmoid", XS)
    tanh, dtanh = curve("tanh", XS)
    assert dsig.max() == pytest.approx(0.25) and dtanh.max() == pytest.approx(1.0)
    assert dsig[np.abs(XS) >= 8].max() < 1e-3 and dtanh[np.abs(XS) >= 8].max() < 1e-6
    assert np.all(curve("relu", XS)[1][XS < 0] == 0.0)
    assert np.all(curve("leaky_relu", XS)[1][XS < 0] == 0.01)


def _stats(depth, act, init, norm="none", width=64, bias=0.0, batch=128):
    return layer_statistics(DeepNetConfig(depth, width, act, init, norm, batch=batch, seed=0, bias=bias))


def _col(rows, key):
    return np.array([r[key] for r in rows])


def test_rows_have_the_documented_fields():
    rows = _stats(4, "tanh", "xavier", width=128, batch=256)
    assert [r["layer"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert len(r["activations"]) == len(r["grads"]) == 5000  # 256 x 128 values, sampled
        assert np.abs(r["activations"]).max() <= 1.0
        assert r["act_std"] == pytest.approx(np.std(r["activations"]), rel=0.1)
        assert r["dead"] == 0.0 and 0.0 <= r["saturated"] <= 1.0
        assert r["loss"] == rows[0]["loss"] > 0
    small = _stats(2, "relu", "kaiming", width=16, batch=8)
    assert len(small[0]["activations"]) == 8 * 16  # fewer than 5000: all of them


def test_deterministic_and_independent_of_the_global_rng():
    a = _stats(3, "relu", "kaiming", width=32)
    torch.rand(100)  # move the global RNG: results must not change
    b = _stats(3, "relu", "kaiming", width=32)
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra["activations"], rb["activations"])
        assert ra["grad_std"] == rb["grad_std"]


def test_grads_are_per_example_loss_gradients():
    """The last hidden layer's gradient equals (softmax - onehot) @ W_readout for every example."""
    cfg = DeepNetConfig(2, 16, "tanh", "xavier", "none", batch=32, seed=3)
    model = A.build_deep_net(cfg)
    X, y = A._digits_batch(cfg.batch, cfg.seed)
    logits, hidden = model(X)
    p = torch.softmax(logits, dim=1).detach()
    p[torch.arange(len(y)), y] -= 1.0
    expected = (p @ model.readout.weight.detach()).numpy()  # (B, width)
    rows = layer_statistics(cfg)
    np.testing.assert_allclose(np.sort(rows[-1]["grads"]), np.sort(expected.ravel()), rtol=1e-9, atol=1e-12)
    assert rows[-1]["grad_std"] == pytest.approx(expected.std(), rel=1e-9)


def test_sigmoid_with_standard_normal_init_saturates():
    rows = _stats(10, "sigmoid", "normal")
    assert _col(rows, "saturated").min() > 0.4  # most units stuck near 0 or 1 in every layer
    assert _col(_stats(10, "sigmoid", "xavier"), "saturated").max() < 0.05
    assert _col(_stats(10, "tanh", "normal"), "saturated").min() > 0.5


def test_sigmoid_gradients_vanish_toward_the_input():
    """sigmoid' <= 1/4: even with Xavier init the gradient shrinks layer by layer going back."""
    grad = _col(_stats(10, "sigmoid", "xavier"), "grad_std")
    assert grad[0] < 1e-4 * grad[-1]
    assert np.all(np.diff(np.log(grad)) > 0)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_small_init_collapses_activations_and_gradients(act):
    rows = _stats(10, act, "small")
    std, grad = _col(rows, "act_std"), _col(rows, "grad_std")
    assert std[-1] < 1e-8 * std[0]  # each layer multiplies the scale by about 0.01 * sqrt(width)
    assert np.all(np.diff(std) < 0)
    assert grad[0] < 1e-6 * grad[-1]  # and the gradients vanish on the way back


@pytest.mark.parametrize("act,init", [("tanh", "xavier"), ("relu", "kaiming")])
def test_matched_init_keeps_activations_and_gradients_order_one(act, init):
    rows = _stats(20, act, init)
    std, grad = _col(rows, "act_std"), _col(rows, "grad_std")
    assert std.min() > 0.1 and std.max() < 3.0
    assert grad.max() / grad.min() < 10.0
    if act == "relu":
        assert std.max() / std.min() < 2.0  # Kaiming: the variance is preserved layer to layer


def test_mismatched_init_for_relu_explodes_or_vanishes():
    assert _col(_stats(10, "relu", "normal"), "act_std")[-1] > 1e6
    std = _col(_stats(10, "relu", "xavier"), "act_std")  # half the variance lost per layer
    assert std[-1] < 0.1 * std[0]


@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("act,init", [("relu", "small"), ("tanh", "small"), ("relu", "normal"),
                                      ("tanh", "normal"), ("sigmoid", "normal")])
def test_normalisation_repairs_bad_inits(norm, act, init):
    rows = _stats(10, act, init, norm=norm)
    std = _col(rows, "act_std")
    assert std.min() > 0.15 and std.max() < 1.0
    assert _col(rows, "saturated").max() < 0.05


def test_negative_bias_kills_relus():
    zero = _stats(10, "relu", "kaiming", width=128, batch=256)
    neg = _stats(10, "relu", "kaiming", width=128, batch=256, bias=-1.0)
    dead0, dead1 = _col(zero, "dead"), _col(neg, "dead")
    # zero biases: no dead unit in the first layers (a few deep down, where the inputs of a layer
    # have become so alike that some units are negative for all of them)
    assert dead0[:2].max() == 0.0 and dead0.mean() < 0.15
    assert dead1[-1] > 0.4 and dead1.mean() > 2 * dead0.mean()
    assert np.all(np.diff(dead1[:5]) > 0)  # growing layer by layer
    assert _col(_stats(10, "relu", "kaiming", width=128, batch=256, bias=-2.0), "dead")[-1] >= dead1[-1]
    assert _col(layer_statistics(DeepNetConfig(10, 128, "relu", "kaiming", "none", seed=1, bias=-1.0)),
                "dead")[-1] == 1.0  # another seed: the whole last layer is dead
    for act in ("tanh", "leaky_relu", "gelu"):
        assert _col(_stats(4, act, "kaiming", bias=-1.0), "dead").max() == 0.0


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm", "rmsnorm"])
def test_normalisation_check_axes(kind):
    res = normalisation_check(kind, B=4, T=5, C=6, seed=0)
    out, x = res["output"], res["input"]
    assert out.shape == x.shape == (4, 5, 6)
    assert res["max_abs_std_along_minus_1"] < 1e-3
    if kind == "batchnorm":
        assert res["mean_along"].shape == (6,) and res["mean_across"].shape == (4, 5)
        ref = (x - x.mean(axis=(0, 1))) / np.sqrt(x.var(axis=(0, 1)) + 1e-5)
    elif kind == "layernorm":
        assert res["mean_along"].shape == (4, 5) and res["mean_across"].shape == (6,)
        ref = (x - x.mean(axis=2, keepdims=True)) / np.sqrt(x.var(axis=2, keepdims=True) + 1e-5)
    else:
        ref = x / np.sqrt((x**2).mean(axis=2, keepdims=True) + np.finfo(np.float64).eps)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    if kind == "rmsnorm":
        assert np.abs(res["rms_along"] - 1).max() < 1e-6 and np.abs(res["mean_along"]).max() > 0.1
    else:
        assert res["max_abs_mean_along"] < 1e-9
        np.testing.assert_allclose(res["std_along"], 1.0, atol=1e-3)
    # along the other axes the output is not standardised
    assert np.abs(res["mean_across"]).max() > 0.2 or np.abs(res["std_across"] - 1).max() > 0.2


def test_normalisation_table():
    assert [row["method"] for row in NORMALISATION_TABLE][:2] == ["BatchNorm", "LayerNorm"]
    for row in NORMALISATION_TABLE:
        assert set(row) == {"method", "statistics over", "learned", "at inference"}
        assert all(isinstance(v, str) and v for v in row.values())
    assert set(NORMS) == {"none", "batchnorm", "layernorm"} and set(INITS) == {"small", "normal", "xavier", "kaiming"}


@pytest.mark.parametrize("kwargs", [
    {"depth": 1}, {"depth": 31}, {"width": 8}, {"width": 1024}, {"activation": "swish"}, {"init": "orthogonal"},
    {"norm": "groupnorm"}, {"batch": 1}, {"batch": 5000}, {"bias": 100.0}, {"bias": float("nan")}, {"seed": -3},
])
def test_bad_config_raises_value_error(kwargs):
    base = {"depth": 3, "width": 32, "activation": "relu", "init": "kaiming", "norm": "none"}
    with pytest.raises(ValueError):
        layer_statistics(DeepNetConfig(**{**base, **kwargs}))


def test_bad_names_raise_value_error():
    with pytest.raises(ValueError):
        curve("swish", XS)
    with pytest.raises(ValueError):
        normalisation_check("groupnorm")
    with pytest.raises(ValueError):
        normalisation_check("layernorm", B=1)
