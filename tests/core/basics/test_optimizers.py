"""Our hand-written optimizer steps against torch.optim, the divergence cut, the instructive default
learning rates, and the speed of a full comparison plot."""
from __future__ import annotations


import numpy as np
import pytest

from core.basics import optimizers as O
from core.basics import surfaces as S

NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam"]


def test_tables_agree():
    assert list(O.OPTIMIZERS) == NAMES
    assert set(O.STATE_NAMES) == set(O.UPDATE_RULES) == set(O.HYPERPARAMETERS) == set(NAMES)
    symbols = {"v": "v_t", "s": "s_t", "u": "u_t", "m": "m_t"}
    for name in NAMES:
        cfg = O.OptimConfig(name, lr=0.1)
        assert set(O.init_state(cfg)) == set(O.STATE_NAMES[name])
        rule = O.UPDATE_RULES[name]
        assert rule.startswith(r"\begin{aligned}") and rule.endswith(r"\end{aligned}")
        assert r"\theta_t" in rule and "g_t" in rule
        for key in O.STATE_NAMES[name]:
            assert symbols[key] in rule and f" {key}" in O.STATE_NAMES[name][key]
        uses_eps = "eps" in O.HYPERPARAMETERS[name]
        assert (r"\varepsilon" in rule) == uses_eps
        assert (cfg.torch_eps > 0) == uses_eps


def test_every_optimizer_matches_torch_on_every_surface():
    rows = O.deviations(steps=200)
    assert len(rows) == 4 * 7
    for row in rows:
        assert row["deviation"] <= 1e-6, row
        assert row["compared"] >= 25, row  # a real stretch of the path was compared
    assert O.max_deviation([S.SURFACES["saddle"]], steps=20) <= 1e-6


@pytest.mark.parametrize("surface", ["quadratic", "rosenbrock", "saddle"])
def test_non_default_hyperparameters_match_torch(surface):
    s = S.SURFACES[surface]
    lr = s.lr
    configs = [
        O.OptimConfig("sgd", lr=lr["sgd"] / 2),
        O.OptimConfig("momentum", lr=lr["momentum"], momentum=0.5),
        O.OptimConfig("nesterov", lr=lr["nesterov"] * 2, momentum=0.7),
        O.OptimConfig("adagrad", lr=lr["adagrad"] / 3, eps=1e-3),
        O.OptimConfig("rmsprop", lr=lr["rmsprop"] / 2, alpha=0.9, eps=1e-4),
        O.OptimConfig("adadelta", lr=1.0, rho=0.95, eps=1e-4),
        O.OptimConfig("adam", lr=lr["adam"] / 2, beta1=0.8, beta2=0.99, eps=1e-6),
    ]
    for row in O.deviations([s], steps=150, configs=configs):
        assert row["deviation"] <= 1e-6, row


def test_first_steps_by_hand():
    theta, g = np.array([1.0, -2.0]), np.array([4.0, -0.5])
    cfg = O.OptimConfig("sgd", lr=0.1)
    np.testing.assert_allclose(O.step(cfg, theta, g, {}, 1)[0], theta - 0.1 * g)
    cfg = O.OptimConfig("nesterov", lr=0.1, momentum=0.9)
    new, state = O.step(cfg, theta, g, O.init_state(cfg), 1)
    np.testing.assert_allclose(state["v"], g)
    np.testing.assert_allclose(new, theta - 0.1 * (g + 0.9 * g))
    # AdaGrad and Adam: the first step is lr in each coordinate, whatever the gradient's size.
    for name in ("adagrad", "adam"):
        cfg = O.OptimConfig(name, lr=0.1)
        np.testing.assert_allclose(O.step(cfg, theta, g, O.init_state(cfg), 1)[0], theta - 0.1 * np.sign(g),
                                   atol=1e-7)
    # RMSProp has no bias correction: its first step is lr / sqrt(1 - alpha) = 10 lr.
    cfg = O.OptimConfig("rmsprop", lr=0.1)
    np.testing.assert_allclose(O.step(cfg, theta, g, O.init_state(cfg), 1)[0], theta - 1.0 * np.sign(g),
                               atol=1e-6)
    # AdaDelta: sqrt(eps) / sqrt(0.1 g^2 + eps) g
    cfg = O.OptimConfig("adadelta", lr=1.0)
    expected = theta - np.sqrt(1e-6) / np.sqrt(0.1 * g**2 + 1e-6) * g
    np.testing.assert_allclose(O.step(cfg, theta, g, O.init_state(cfg), 1)[0], expected)


def test_step_is_pure():
    theta, g = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    for name in NAMES:
        cfg = O.OptimConfig(name, lr=0.1)
        state = {k: np.full(2, 0.25) for k in O.STATE_NAMES[name]}
        before = {k: v.copy() for k, v in state.items()}
        O.step(cfg, theta, g, state, 3)
        assert all(np.array_equal(state[k], before[k]) for k in state)
        assert np.array_equal(theta, [1.0, 2.0]) and np.array_equal(g, [0.5, -0.5])


def test_trajectory_shapes_and_divergence():
    quadratic = S.SURFACES["quadratic"]
    tr = O.trajectory(quadratic, O.OptimConfig("adam", lr=0.1), steps=50)
    assert tr.points.shape == (51, 2) and tr.losses.shape == (51,) and tr.grads.shape == (50, 2)
    assert len(tr.states) == 50 and tr.diverged_at is None
    assert np.array_equal(tr.points[0], quadratic.start)
    blown = O.trajectory(quadratic, O.OptimConfig("sgd", lr=1.0), steps=500)  # |1 - 20| > 1 across
    assert blown.diverged_at is not None and blown.diverged_at < 500
    assert len(blown.points) == blown.diverged_at and np.all(np.abs(blown.points) <= O.DIVERGED)
    assert len(blown.grads) == len(blown.states) == len(blown.points) - 1
    theirs = O.torch_trajectory(quadratic, O.OptimConfig("sgd", lr=1.0), steps=500)
    assert len(theirs) == len(blown.points)
    # a path that leaves the domain of the formula is cut too
    log = S.custom_surface("log(x) + y**2", start=(0.5, 1.0))
    cut = O.trajectory(log, O.OptimConfig("sgd", lr=1.0), steps=10)
    assert cut.diverged_at == 1 and len(cut.points) == 1


def test_bad_inputs():
    surface = S.SURFACES["saddle"]
    cfg = O.OptimConfig("sgd", lr=0.1)
    for steps in (0, 2001, 1.5, True, -3):
        with pytest.raises(ValueError):
            O.trajectory(surface, cfg, steps=steps)
    for kwargs in ({"name": "lbfgs", "lr": 0.1}, {"name": "sgd", "lr": 0.0}, {"name": "sgd", "lr": float("nan")},
                   {"name": "momentum", "lr": 0.1, "momentum": 1.0}, {"name": "adam", "lr": 0.1, "beta2": -0.1},
                   {"name": "adam", "lr": 0.1, "eps": 0.0}, {"name": "sgd", "lr": 1e9}):
        with pytest.raises(ValueError):
            O.OptimConfig(**kwargs)
    with pytest.raises(ValueError):
        O.trajectory(surface, cfg, start=(np.inf, 0.0))
    with pytest.raises(ValueError):
        O.trajectory(S.custom_surface("log(x)"), cfg, start=(-1.0, 0.0))
    with pytest.raises(ValueError):
        O.step(cfg, np.zeros(2), np.zeros(2), {}, 0)


def _runs(name, steps=300):
    return O.run_all(S.SURFACES[name], steps=steps)


def test_the_defaults_tell_the_story():
    quad = _runs("quadratic")
    y = quad["sgd"].points[:30, 1]
    assert np.sum(np.sign(y[1:]) != np.sign(y[:-1])) >= 20  # SGD zig-zags across the valley
    assert quad["momentum"].points[:, 0].max() > 1.0  # momentum overshoots the minimum at x = 0
    assert quad["nesterov"].points[:, 0].max() < quad["momentum"].points[:, 0].max()
    for tr in quad.values():
        assert tr.diverged_at is None and tr.losses[-1] < 0.05 * tr.losses[0]
    steps = np.linalg.norm(np.diff(quad["adagrad"].points, axis=0), axis=1)
    assert steps[40:60].mean() < 0.2 * steps[:5].mean()  # AdaGrad's steps shrink

    saddle = _runs("saddle")
    assert abs(saddle["sgd"].points[50, 1]) < 0.1  # SGD is still at the saddle after 50 steps
    for name in ("adagrad", "rmsprop", "adam"):
        assert abs(saddle[name].points[50, 1]) > 0.5  # the adaptive methods have left it
    for tr in saddle.values():
        assert tr.losses[-1] < -0.24  # everyone reaches a minimum in the end

    rosen = _runs("rosenbrock")
    for name in ("momentum", "nesterov", "adam"):
        assert rosen[name].losses[-1] < 0.1 < rosen["sgd"].losses[-1]

    plateau = S.SURFACES["plateau"]
    runs = _runs("plateau")
    local, best = (np.array(m) for m in plateau.minima)
    assert np.linalg.norm(runs["sgd"].points[100] - plateau.start) < 0.5  # SGD crawls on the plateau
    assert np.linalg.norm(runs["adam"].points[30] - plateau.start) > 2.0  # Adam crosses it
    for name in ("sgd", "adagrad", "rmsprop", "adadelta"):
        assert np.linalg.norm(runs[name].points[-1] - local) < 0.05, name
    for name in ("momentum", "nesterov", "adam"):
        assert np.linalg.norm(runs[name].points[-1] - best) < 0.5, name

