"""Unit tests for core.basics.batches: the data (split, standardisation), the hand-written losses'
gradients against torch autograd, full-batch gradient descent reaching the closed-form least-squares
optimum, the noise of small batches, divergence, the time cap and the input checks."""
import math

import numpy as np
import pytest
import torch

from core.basics import batches
from core.basics.batches import DATASETS, GDConfig, compare, load, loss_and_grad, n_train, optimum_loss, run_gd


@pytest.mark.parametrize("name", list(DATASETS))
def test_data_split_and_standardised(name):
    data = load(name)
    N, M = len(data.X_train), len(data.X_val)
    assert abs(M / (N + M) - 0.2) < 0.01
    assert n_train(name) == N == len(data.y_train)
    assert np.all(data.X_train[:, -1] == 1.0) and np.all(data.X_val[:, -1] == 1.0)  # bias column
    feats = data.X_train[:, :-1]
    np.testing.assert_allclose(feats.mean(axis=0), 0.0, atol=1e-9)
    std = feats.std(axis=0)
    assert np.all((np.abs(std - 1.0) < 1e-9) | (std == 0.0))  # constant digit pixels stay 0
    assert load(name) is data  # cached, and read-only so nobody can change the shared copy
    with pytest.raises(ValueError):
        data.X_train[0, 0] = 5.0
    if name == "diabetes":
        assert abs(data.y_train.mean()) < 1e-9 and abs(data.y_train.std() - 1.0) < 1e-9
    else:
        assert data.y_train.dtype == np.int64
        assert set(np.unique(data.y_train)) == set(range(data.n_outputs if name == "digits" else 2))


def _torch_loss(task, w, X, y):
    z = X @ w
    if task == "softmax":
        return torch.nn.functional.cross_entropy(z, torch.as_tensor(y))
    if task == "logistic":
        return torch.nn.functional.binary_cross_entropy_with_logits(z[:, 0], torch.as_tensor(y, dtype=torch.float64))
    return ((z[:, 0] - torch.as_tensor(y)) ** 2).mean()


@pytest.mark.parametrize("name", list(DATASETS))
def test_loss_and_gradient_equal_autograd(name):
    data = load(name)
    rng = np.random.default_rng(1)
    w = rng.normal(0.0, 0.5, size=(data.X_train.shape[1], data.n_outputs))
    idx = rng.choice(len(data.X_train), size=17, replace=False)
    X, y = data.X_train[idx], data.y_train[idx]
    loss, grad = loss_and_grad(data.task, w, X, y)
    wt = torch.tensor(w, requires_grad=True)
    ref = _torch_loss(data.task, wt, torch.tensor(X), y)
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_least_squares_optimum_is_a_minimum():
    data = load("diabetes")
    w, *unused = np.linalg.lstsq(data.X_train, data.y_train, rcond=None)
    loss, grad = loss_and_grad("linear", w[:, None], data.X_train, data.y_train)
    assert loss == pytest.approx(optimum_loss("diabetes"))
    assert np.abs(grad).max() < 1e-10
    assert optimum_loss("digits") is None and optimum_loss("moons") is None


def test_full_batch_gd_reaches_the_closed_form_least_squares_loss():
    N = n_train("diabetes")
    run = run_gd(GDConfig("diabetes", N, 0.2, 500, 0))
    best = optimum_loss("diabetes")
    assert run["optimum"] == best
    assert run["stopped_by"] == "epochs" and run["steps"] == 500
    assert best <= run["final_loss"] < best + 1e-3
    # full-batch GD with lr < 2 / L on a convex quadratic: the loss never goes up
    assert np.all(np.diff(run["loss"]) <= 1e-12)
    np.testing.assert_array_equal(run["examples"], run["step"] * N)


def test_run_record_shapes_and_moments():
    N = n_train("moons")
    run = run_gd(GDConfig("moons", 1, 0.1, 2, 3), eval_points=50)
    for key in ("step", "examples", "loss", "val_loss", "epoch"):
        assert len(run[key]) == len(run["step"]) <= 51
    assert run["step"][0] == 0 and run["step"][-1] == run["steps"] == 2 * N
    assert np.all(np.diff(run["step"]) > 0)
    np.testing.assert_array_equal(run["examples"], run["step"])  # one example per step
    assert run["batch_size"] == 1 and run["seconds"] >= 0 and run["stopped_by"] == "epochs"
    assert run["epoch"][-1] == pytest.approx(2.0)
    assert np.isfinite(run["loss"]).all() and np.isfinite(run["val_loss"]).all()
    # fractional epochs and a partial last batch: ceil(N / B) batches per epoch
    half = run_gd(GDConfig("moons", 300, 0.1, 1.5, 0))
    assert half["steps"] == round(1.5 * math.ceil(N / 300))


def test_deterministic_per_seed():
    a = run_gd(GDConfig("digits", 32, 0.1, 1, 5))
    b = run_gd(GDConfig("digits", 32, 0.1, 1, 5))
    c = run_gd(GDConfig("digits", 32, 0.1, 1, 6))
    np.testing.assert_array_equal(a["loss"], b["loss"])
    assert not np.array_equal(a["loss"], c["loss"])


def test_small_batches_make_more_progress_per_epoch_but_noisier_curves():
    runs = compare("digits", lr=0.1, epochs=3, seed=0)
    full, mini, sgd = runs.values()
    assert [r["batch_size"] for r in runs.values()] == [n_train("digits"), 32, 1]
    # same number of examples seen, many more updates
    assert full["examples"][-1] == mini["examples"][-1] == sgd["examples"][-1] == 3 * n_train("digits")
    assert max(sgd["final_loss"], mini["final_loss"]) < 0.5 * full["final_loss"]
    # full batch: the loss falls at every evaluation; stochastic: it goes up now and then (noise)
    assert np.all(np.diff(full["loss"]) < 0)
    assert np.sum(np.diff(sgd["loss"]) > 0) >= 5


def test_divergence_stops_the_run():
    run = run_gd(GDConfig("diabetes", n_train("diabetes"), 50.0, 100, 0))
    assert run["stopped_by"] == "diverged" and run["diverged_at"] == run["steps"] < 100
    assert run["step"][-1] == run["steps"]


def test_time_cap_and_progress_callback():
    calls = []
    run = run_gd(GDConfig("digits", 1, 0.01, 10, 0), on_step=lambda d, t, i: calls.append((d, t, i)),
                 max_seconds=0.0)
    assert run["stopped_by"] == "time" and run["steps"] == 1 and run["step"][-1] == 1
    assert calls[0][0] == 0 and calls[-1][0] == 1 and calls[-1][1] == 10 * n_train("digits")
    assert set(calls[-1][2]) == {"loss", "val_loss"}
    seen = []
    compare("moons", 0.1, 0.5, 0, batch_sizes=(800, 64), on_step=lambda d, t, i: seen.append(i["batch_size"]))
    assert set(seen) == {800, 64}


@pytest.mark.parametrize("kwargs", [
    {"dataset": "mnist"},
    {"batch_size": 0}, {"batch_size": 10_000}, {"batch_size": 2.5},
    {"lr": 0.0}, {"lr": -1.0}, {"lr": float("nan")}, {"lr": 1e9},
    {"epochs": 0}, {"epochs": float("inf")}, {"epochs": 1000},
    {"dataset": "digits", "batch_size": 1, "epochs": 400},  # too many updates
    {"seed": -1},
])
def test_bad_input_raises_value_error(kwargs):
    base = {"dataset": "diabetes", "batch_size": 32, "lr": 0.1, "epochs": 1, "seed": 0}
    with pytest.raises(ValueError):
        run_gd(GDConfig(**{**base, **kwargs}))


def test_labels():
    assert batches.batch_label(1437, 1437).startswith("full batch")
    assert batches.batch_label(1, 1437) == "stochastic (B = 1)"
    assert batches.batch_label(32, 1437) == "mini-batch (B = 32)"
    with pytest.raises(ValueError):
        compare("moons", 0.1, 1, 0, batch_sizes=())
