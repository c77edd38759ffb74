"""The built-in loss surfaces: their minima are minima, the saddle is a saddle, the grid is laid out
as documented, and custom formulas are checked."""
from __future__ import annotations

import numpy as np
import pytest

from core.basics import surfaces as S


def _hessian(surface, point, h=1e-4):
    def grad(p):
        return S.value_and_grad(surface, np.asarray(p, dtype=np.float64))[1]
    cols = [(grad(point + h * e) - grad(point - h * e)) / (2 * h) for e in np.eye(2)]
    return np.stack(cols, axis=1)  # (2, 2)


def test_the_four_surfaces():
    assert list(S.SURFACES) == ["quadratic", "rosenbrock", "saddle", "plateau"]
    for name, surface in S.SURFACES.items():
        assert surface.name == name and surface.label and surface.note
        assert set(surface.lr) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam"}
        (x0, x1), (y0, y1) = surface.x_range, surface.y_range
        for x, y in (surface.start, *surface.minima):
            assert x0 <= x <= x1 and y0 <= y <= y1


@pytest.mark.parametrize("name", list(S.SURFACES))
def test_minima_are_minima(name):
    surface = S.SURFACES[name]
    for point in surface.minima:
        p = np.array(point)
        value, grad = S.value_and_grad(surface, p)
        assert np.linalg.norm(grad) < 1e-3
        assert np.all(np.linalg.eigvalsh(_hessian(surface, p)) > 0)
        ring = p + 0.05 * np.stack([np.cos(np.linspace(0, 6.28, 16)), np.sin(np.linspace(0, 6.28, 16))], 1)
        assert all(S.value_and_grad(surface, q)[0] > value for q in ring)


def test_plateau_global_minimum_is_deeper_and_the_start_is_flat():
    plateau = S.SURFACES["plateau"]
    local, best = (S.value_and_grad(plateau, np.array(m))[0] for m in plateau.minima)
    assert best < local - 0.3
    assert np.linalg.norm(S.value_and_grad(plateau, np.array(plateau.start))[1]) < 0.05


def test_saddle_is_a_saddle_and_the_start_is_off_its_ridge():
    saddle = S.SURFACES["saddle"]
    value, grad = S.value_and_grad(saddle, np.zeros(2))
    assert value == 0 and np.all(grad == 0)
    eigenvalues = np.linalg.eigvalsh(_hessian(saddle, np.zeros(2)))
    assert eigenvalues[0] < 0 < eigenvalues[1]
    assert 0 < abs(saddle.start[1]) < 0.01


def test_quadratic_is_ill_conditioned():
    eigenvalues = np.linalg.eigvalsh(_hessian(S.SURFACES["quadratic"], np.zeros(2)))
    assert eigenvalues[1] / eigenvalues[0] == pytest.approx(20, rel=1e-6)


def test_grid_layout_and_nan():
    surface = S.custom_surface("x + 10*y", x_range=(-1, 1), y_range=(0, 2))
    xs, ys, z = S.grid(surface, n=5)
    assert xs.shape == ys.shape == (5,) and z.shape == (5, 5)
    np.testing.assert_allclose(z, xs[None, :] + 10 * ys[:, None])
    __, __, z = S.grid(S.custom_surface("log(x) + y"), n=11)
    assert np.isnan(z[:, :5]).all() and np.isfinite(z[:, 6:]).all()
    __, __, z = S.grid(S.custom_surface("2"), n=3)
    assert np.all(z == 2)
    for bad in (1, 401, 2.5):
        with pytest.raises(ValueError):
            S.grid(surface, n=bad)


def test_value_and_grad_equals_autograd():
    rng = np.random.default_rng(1)
    for surface in S.SURFACES.values():
        for p in rng.uniform(-2, 2, size=(10, 2)):
            value, grad = S.value_and_grad(surface, p)
            ref = S.autograd_value_and_grad_xy(surface.parsed, *p)
            assert value == pytest.approx(ref[0], rel=1e-13, abs=1e-13)
            np.testing.assert_allclose(grad, ref[1:], rtol=1e-12, atol=1e-12)


def test_custom_surface_checks_its_input():
    surface = S.custom_surface("  x**2 + y**2 ", start=(1, 1))
    assert surface.name == "custom" and surface.expression == "x**2 + y**2" and surface.minima == ()
    for kwargs in ({"text": "import os"}, {"text": "x", "x_range": (1, 0)}, {"text": "x", "start": (np.nan, 0)},
                   {"text": "x", "y_range": (0, 1e9)}, {"text": "x", "start": ("a", 1)}):
        with pytest.raises(ValueError):
            S.custom_surface(**kwargs)
