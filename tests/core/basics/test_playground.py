"""Unit tests for core.basics.playground: the toy data, the network and its optimizers, chunked
training (step counting, determinism, > 0.95 accuracy on moons), the decision-boundary grid, the
page's step-and-redraw loop, the overfitting detector and the
polynomial fits."""

import numpy as np
import pytest
import torch

from core.basics import playground as pg
from core.basics.cnn import Dropout
from core.basics.playground import (DATASETS, PlaygroundConfig, boundary, make_data, make_optimizer, new_model,
                                    overfitting_point, polynomial_fit, train_steps)

CFG = PlaygroundConfig(depth=2, width=8, activation="relu", optimizer="adam", lr=0.03, l2=0.0, dropout=0.0)


@pytest.mark.parametrize("name", list(DATASETS))
def test_make_data(name):
    d = make_data(name, n=400, noise=0.2, seed=1, val_fraction=0.3)
    assert d["X_train"].shape == (280, 2) and d["X_val"].shape == (120, 2)
    assert d["X_train"].dtype == np.float32 and d["y_train"].dtype == np.int64
    y = np.concatenate([d["y_train"], d["y_val"]])
    assert set(np.unique(y)) == {0, 1} and 0.4 < y.mean() < 0.6
    assert np.abs(np.concatenate([d["X_train"], d["X_val"]])).max() < 3.0
    again = make_data(name, n=400, noise=0.2, seed=1, val_fraction=0.3)
    np.testing.assert_array_equal(d["X_train"], again["X_train"])
    assert not np.array_equal(d["X_train"], make_data(name, n=400, noise=0.2, seed=2)["X_train"][:280])


def test_xor_labels_without_noise():
    d = make_data("xor", n=200, noise=0.0)
    X, y = d["X_train"], d["y_train"]
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(np.int64))


@pytest.mark.parametrize("kwargs", [{"name": "swirl"}, {"n": 49}, {"n": 5001}, {"n": 100.5}, {"noise": -0.1},
                                    {"noise": 1.5}, {"noise": float("nan")}, {"val_fraction": 0.9}, {"seed": -1}])
def test_make_data_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        make_data(**{"name": "moons", **kwargs})


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"depth": 7}, {"width": 0}, {"width": 65}, {"activation": "elu"},
                                    {"optimizer": "lbfgs"}, {"lr": 0.0}, {"lr": 100.0}, {"l2": 0.5}, {"l2": -1e-3},
                                    {"dropout": 0.9}, {"batch_size": 0}, {"batch_size": 5000}])
def test_config_rejects_bad_values(kwargs):
    base = {"depth": 2, "width": 8, "activation": "relu", "optimizer": "adam", "lr": 0.03, "l2": 0.0, "dropout": 0.0}
    with pytest.raises(ValueError):
        PlaygroundConfig(**{**base, **kwargs})


def test_model_shape_and_determinism():
    m1, m2, m3 = new_model(CFG, 0), new_model(CFG, 0), new_model(CFG, 1)
    torch.rand(10)  # the global RNG plays no part
    m4 = new_model(CFG, 0)
    x = torch.randn(7, 2)
    assert m1(x).shape == (7, 2)
    for a, b, c, d in zip(m1.parameters(), m2.parameters(), m3.parameters(), m4.parameters()):
        assert torch.equal(a, b) and torch.equal(a, d)
    assert any(not torch.equal(a, c) for a, c in zip(m1.parameters(), m3.parameters()))
    deep = PlaygroundConfig(6, 64, "gelu", "sgd", 0.1, 0.0, 0.5)
    assert sum(isinstance(m, torch.nn.Linear) for m in new_model(deep).modules()) == 7
    assert sum(isinstance(m, Dropout) for m in new_model(deep).modules()) == 6


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("momentum", torch.optim.SGD),
                                      ("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop),
                                      ("adagrad", torch.optim.Adagrad)])
def test_optimizers_and_l2_on_weights_only(name, cls):
    cfg = PlaygroundConfig(2, 8, "tanh", name, 0.05, 0.01, 0.0)
    opt = make_optimizer(new_model(cfg), cfg)
    assert isinstance(opt, cls)
    weights, biases = opt.param_groups
    assert weights["weight_decay"] == 0.01 and all(p.ndim == 2 for p in weights["params"])
    assert biases["weight_decay"] == 0.0 and all(p.ndim == 1 for p in biases["params"])
    if name.startswith(("sgd", "momentum")):
        assert weights["momentum"] == (0.9 if name == "momentum" else 0.0)


def test_train_steps_in_chunks_counts_steps_and_learns_moons():
    data = make_data("moons", n=429, noise=0.2, seed=0)  # 300 training points
    model = new_model(CFG, 0)
    opt = make_optimizer(model, CFG)
    history = []
    for unused in range(16):
        assert train_steps(model, opt, data, CFG, 25, 0, history) is history
    steps = [h["step"] for h in history]
    assert steps[0] == 0 and steps[-1] == 400 and steps == sorted(set(steps))
    assert set(history[-1]) == {"step", "loss", "val_loss", "train_acc", "val_acc"}
    assert history[-1]["train_acc"] > 0.95 and history[-1]["val_acc"] > 0.9
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert model.training  # left in training mode
    # an int seed with the same starting point reproduces the run; a kept generator works too
    m2 = new_model(CFG, 0)
    o2 = make_optimizer(m2, CFG)
    h2 = []
    for unused in range(16):
        train_steps(m2, o2, data, CFG, 25, 0, h2)
    assert h2[-1]["loss"] == history[-1]["loss"]
    gen_hist = train_steps(new_model(CFG, 0), make_optimizer(new_model(CFG, 0), CFG), data, CFG, 3,
                           torch.Generator().manual_seed(5), [])
    assert [h["step"] for h in gen_hist] == [0, 3]


def test_train_steps_checks_its_input():
    data = make_data("moons", n=100)
    model = new_model(CFG)
    opt = make_optimizer(model, CFG)
    for bad in (-1, 100_000, 2.5):
        with pytest.raises(ValueError):
            train_steps(model, opt, data, CFG, bad, 0, [])
    with pytest.raises(ValueError):
        train_steps(model, opt, {"X_train": 1}, CFG, 1, 0, [])


def test_l2_shrinks_the_weights():
    data = make_data("circles", n=200)
    norms = {}
    for l2 in (0.0, 0.1):
        cfg = PlaygroundConfig(2, 16, "relu", "sgd", 0.1, l2, 0.0)
        model = new_model(cfg, 0)
        train_steps(model, make_optimizer(model, cfg), data, cfg, 200, 0, [])
        norms[l2] = sum(float(p.detach().pow(2).sum()) for p in model.parameters() if p.ndim == 2)
    assert norms[0.1] < 0.7 * norms[0.0]


def test_boundary_grid_matches_the_model_and_ignores_dropout():
    cfg = PlaygroundConfig(2, 8, "tanh", "adam", 0.03, 0.0, 0.5)
    model = new_model(cfg, 0)
    model.train()
    xs, ys, P = boundary(model, (-2, 2), (-1, 1.5), n=30)
    assert xs.shape == (30,) and ys.shape == (30,) and P.shape == (30, 30)
    assert xs[0] == -2 and xs[-1] == 2 and ys[0] == -1 and ys[-1] == 1.5
    assert np.all((P >= 0) & (P <= 1))
    assert model.training  # restored
    np.testing.assert_array_equal(P, boundary(model, (-2, 2), (-1, 1.5), n=30)[2])  # eval mode: no dropout
    model.eval()
    with torch.no_grad():
        point = torch.tensor([[xs[4], ys[17]]], dtype=torch.float32)
        p = torch.softmax(model(point), dim=1)[0, 1].item()
    assert P[17, 4] == pytest.approx(p, abs=1e-6)  # P[i, j] = p(class 1 | xs[j], ys[i])
    for bad in ({"n": 1}, {"n": 1000}, {"x_range": (1, 0)}, {"y_range": (0, float("inf"))}, {"x_range": "ab"}):
        with pytest.raises(ValueError):
            boundary(model, **{"x_range": (-1, 1), "y_range": (-1, 1), **bad})


def test_one_step_at_a_time_counts_steps_and_redraws_the_same_grid():
    """The page's loop: one step, then the boundary; steps add up and the grid keeps its shape
    (the time of this loop is a target of benchmarks/basics.py, not of a test)."""
    data = make_data("moons", n=429)  # 300 training points
    model = new_model(CFG, 0)
    opt = make_optimizer(model, CFG)
    history = []
    xr, yr = pg.data_range(data)
    for unused in range(60):
        train_steps(model, opt, data, CFG, 1, 0, history)
        xs, ys, P = boundary(model, xr, yr, n=60)
        assert P.shape == (60, 60) and np.all((P >= 0) & (P <= 1))
    assert history[-1]["step"] == 60


def test_overfitting_point():
    steps = np.arange(0, 200, 10)
    train = np.exp(-steps / 50)  # keeps falling
    val = 0.5 + (steps - 80) ** 2 / 10_000  # lowest at step 80, then rises
    hist = [{"step": int(s), "loss": float(t), "val_loss": float(v)} for s, t, v in zip(steps, train, val)]
    res = overfitting_point(hist)
    assert res["step"] == 80 and res["index"] == 8 and res["overfits"]
    assert 100 <= res["rise_step"] <= 150  # judged on trailing means of 5 evaluations: a little after the minimum
    calm = [{"step": int(s), "loss": float(t), "val_loss": float(t) + 0.1} for s, t in zip(steps, train)]
    res = overfitting_point(calm)
    assert res["step"] == 190 and not res["overfits"] and res["rise_step"] is None
    assert overfitting_point([]) is None and overfitting_point(hist[:1]) is None
    # a noisy few points with a falling training loss: 5 % is the threshold
    flat = [{"step": i, "loss": 1.0 - 0.1 * i, "val_loss": v} for i, v in enumerate([1.0, 0.9, 0.94, 0.93])]
    assert not overfitting_point(flat)["overfits"]
    # a network that learns nothing: both losses jitter around 0.65 (mini-batch noise), no trend
    rng = np.random.default_rng(0)
    jitter = [{"step": 5 * i, "loss": 0.65 + 0.03 * rng.standard_normal(), "val_loss": 0.65 + 0.03 * rng.standard_normal()}
              for i in range(120)]
    assert not overfitting_point(jitter)["overfits"]


@pytest.mark.slow
def test_a_big_net_on_few_noisy_points_overfits():
    data = make_data("moons", n=60, noise=0.4, seed=1)
    cfg = PlaygroundConfig(4, 48, "relu", "adam", 0.01, 0.0, 0.0)
    model = new_model(cfg, 0)
    history = train_steps(model, make_optimizer(model, cfg), data, cfg, 800, 0, [])
    res = overfitting_point(history)
    assert res["overfits"] and res["step"] < 400
    assert history[-1]["train_acc"] > 0.95 and history[-1]["val_loss"] > 2 * res["val_loss"]


def test_polynomial_fit():
    res = polynomial_fit(max_degree=15, n=20, noise=0.3, seed=0)
    assert list(res["degrees"]) == list(range(16)) and len(res["curves"]) == 16
    assert np.all(np.diff(res["train_mse"]) <= 1e-10)  # nested least-squares fits
    assert res["train_mse"][0] == pytest.approx(np.var(res["y_train"]))  # degree 0 = the mean
    np.testing.assert_allclose(res["curves"][0], res["y_train"].mean())
    best = res["best_degree"]
    assert 3 <= best <= 10 and res["val_mse"][best] == res["val_mse"].min()
    assert res["val_mse"][best] < 0.5 * res["val_mse"][0]  # under-fitting
    assert res["val_mse"][-1] > 2 * res["val_mse"][best]  # over-fitting
    np.testing.assert_allclose(res["true"], np.sin(2 * np.pi * res["xs"]))
    for d in (1, 5):
        ref = np.polyfit(res["x_train"], res["y_train"], d)  # the same least-squares polynomial
        np.testing.assert_allclose(res["curves"][d], np.polyval(ref, res["xs"]), atol=1e-8)
    for s in range(5):  # any seed: training error never increases with the degree
        assert np.all(np.diff(polynomial_fit(seed=s, max_degree=20, n=10)["train_mse"]) <= 1e-10)
    for bad in ({"max_degree": -1}, {"max_degree": 50}, {"n": 2}, {"noise": 2.0}, {"seed": -1}):
        with pytest.raises(ValueError):
            polynomial_fit(**bad)


def test_dropout_masks_come_from_the_run_generator_not_the_global_rng():
    """Same seed -> same training with dropout, whatever the process-wide RNG does meanwhile."""
    from core.device import make_generator

    cfg = pg.PlaygroundConfig(depth=2, width=8, activation="tanh", optimizer="adam", lr=0.03, l2=0.0,
                                      dropout=0.5, batch_size=16)
    data = pg.make_data("moons", n=200, noise=0.2, seed=0)
    runs = []
    for noise in (1, 2):
        model = pg.new_model(cfg, 0)
        opt = pg.make_optimizer(model, cfg)
        torch.rand(noise * 7)  # moves the global RNG differently before each run
        runs.append(pg.train_steps(model, opt, data, cfg, 20, make_generator(3), [])[-1]["loss"])
    assert runs[0] == runs[1]
