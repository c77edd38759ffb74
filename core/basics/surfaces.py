"""Loss surfaces f(x, y) to watch optimizers on: four built-in ones and the user's own formula.

Each `Surface` carries its formula (in the safe language of `core.basics.expression`), the window
to draw, a start point, its minima, a note on what to look for, and a learning rate per optimizer
that makes every path move visibly within a few hundred steps. Gradients come from float64
autograd through the parsed formula.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from core.basics.expression import Expression, parse
from core.i18n import N_, _

MAX_GRID = 400  # most grid points per axis for a contour plot
MAX_COORD = 1e6  # largest |coordinate| of a window or start point


@dataclass(frozen=True)
class Surface:
    name: str  # key: "quadratic", "rosenbrock", "saddle", "plateau" or "custom"
    label: str  # N_ label, translated where shown (a custom surface: its formula)
    expression: str  # f(x, y) in the language of core.basics.expression
    start: tuple[float, float]  # where the optimizers start
    x_range: tuple[float, float]  # the window drawn: x from, to
    y_range: tuple[float, float]  # y from, to
    minima: tuple[tuple[float, float], ...]  # the (local and global) minima, to mark on the plot
    note: str  # N_ text: what to look for on this surface (empty for a custom one)
    lr: dict[str, float] = field(default_factory=dict)  # a good default learning rate per optimizer name

    @property
    def parsed(self) -> Expression:
        """The compiled formula (parsed once per process: `parse` is cached by text)."""
        return parse(self.expression)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """f(x, y) elementwise (tensors of one shape), differentiable."""
        return self.parsed(x, y)


SURFACES: dict[str, Surface] = {
    "quadratic": Surface(
        name="quadratic",
        label=N_("Ill-conditioned bowl"),
        expression="0.5*(x**2 + 20*y**2)",
        start=(-4.5, 1.5),
        x_range=(-5.0, 5.0),
        y_range=(-2.5, 2.5),
        minima=((0.0, 0.0),),
        note=N_("A long narrow valley: the curvature across it (y) is 20 times the curvature along it "
                "(x). A learning rate large enough to move along the valley is almost too large across "
                "it, so plain SGD zig-zags from wall to wall. Momentum builds up speed along the "
                "valley but overshoots the minimum and swings back; Nesterov momentum looks ahead and "
                "swings less. AdaGrad, RMSProp and Adam divide each coordinate by the size of its own "
                "gradients, so both directions get steps of similar size; AdaGrad's steps keep "
                "shrinking because its sum of squared gradients only grows. AdaDelta starts with tiny "
                "steps and speeds up as its average of past updates grows."),
        lr={"sgd": 0.09, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.5, "rmsprop": 0.05,
            "adadelta": 10.0, "adam": 0.2},
    ),
    "rosenbrock": Surface(
        name="rosenbrock",
        label=N_("Rosenbrock's banana valley"),
        expression="(1 - x)**2 + 100*(y - x**2)**2",
        start=(-1.2, 1.0),
        x_range=(-2.0, 1.6),
        y_range=(-0.5, 2.0),
        minima=((1.0, 1.0),),
        note=N_("The classic test function: a curved, flat-bottomed valley with the minimum at (1, 1). "
                "Falling into the valley is easy; following its bend to the minimum is hard. The walls "
                "are steep, so SGD needs a tiny learning rate and then barely moves along the floor. "
                "Momentum, Nesterov and Adam keep rolling along the valley and get close to "
                "(1, 1) within 300 steps; AdaGrad, RMSProp and AdaDelta rescale the steps but still "
                "crawl along the bend."),
        lr={"sgd": 0.0015, "momentum": 0.001, "nesterov": 0.001, "adagrad": 0.5, "rmsprop": 0.01,
            "adadelta": 2.0, "adam": 0.2},
    ),
    "saddle": Surface(
        name="saddle",
        label=N_("Saddle point"),
        expression="x**2 + y**4/4 - y**2/2",
        start=(-2.0, 0.001),
        x_range=(-2.5, 2.5),
        y_range=(-1.6, 1.6),
        minima=((0.0, -1.0), (0.0, 1.0)),
        note=N_("The origin is a saddle point: a minimum along x, a maximum along y, with two minima "
                "at (0, ±1). The start lies a hair (0.001) off the ridge y = 0, where the gradient "
                "along y is almost zero. SGD slides into the saddle and waits there until the tiny "
                "y-component grows; momentum waits less. RMSProp, Adam and AdaGrad divide by "
                "the size of each gradient component, so even a tiny slope gives a full step: they "
                "leave the saddle at once."),
        lr={"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.3, "rmsprop": 0.02,
            "adadelta": 5.0, "adam": 0.05},
    ),
    "plateau": Surface(
        name="plateau",
        label=N_("Plateau and two minima"),
        expression="1.2*tanh(((x + 1.5)**2 + (y + 1.5)**2)/14) - 0.3*exp(-((x - 1)**2 + (y - 0.85)**2)/0.3)",
        start=(3.5, 3.2),
        x_range=(-4.0, 4.0),
        y_range=(-4.0, 4.0),
        minima=((0.8648, 0.7229), (-1.5, -1.5)),
        note=N_("A wide bowl that flattens out into a plateau far from its centre (the global minimum at "
                "(-1.5, -1.5)), with a small dent on the way down: a shallow local minimum near "
                "(0.86, 0.72). On the plateau the gradient is tiny, so SGD and momentum crawl "
                "for a hundred steps or more, while AdaGrad, RMSProp, AdaDelta and Adam divide by the "
                "gradient's size and cross it quickly. Where a path ends depends on its speed when it "
                "reaches the dent: SGD, AdaGrad, RMSProp and AdaDelta stop in the local minimum; "
                "momentum, Nesterov and Adam (whose first moment is a momentum) roll through it into "
                "the global one."),
        lr={"sgd": 0.5, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5, "rmsprop": 0.03,
            "adadelta": 2.0, "adam": 0.1},
    ),
}


def _check_pair(pair: tuple[float, float], what: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(_("{what} must be two numbers.").format(what=what)) from None
    if not (math.isfinite(a) and math.isfinite(b)) or max(abs(a), abs(b)) > MAX_COORD:
        raise ValueError(_("{what} must be two finite numbers between -{max:g} and {max:g}.").format(
            what=what, max=MAX_COORD))
    return a, b


def custom_surface(text: str, start: tuple[float, float] = (-2.0, 2.0),
                   x_range: tuple[float, float] = (-3.0, 3.0),
                   y_range: tuple[float, float] = (-3.0, 3.0)) -> Surface:
    """The user's own f(x, y) (ValueError from `parse` when the formula is not allowed). Its learning
    rates are conservative defaults; minima are unknown (empty)."""
    expression = parse(text)
    start = _check_pair(start, _("The start point"))
    x_range = _check_pair(x_range, _("The x range"))
    y_range = _check_pair(y_range, _("The y range"))
    for lo, hi, axis in ((*x_range, "x"), (*y_range, "y")):
        if not lo < hi:
            raise ValueError(_("The {axis} range must go from a smaller to a larger number, not {lo:g} "
                               "to {hi:g}.").format(axis=axis, lo=lo, hi=hi))
    return Surface(name="custom", label=expression.text, expression=expression.text, start=start,
                   x_range=x_range, y_range=y_range, minima=(), note="",
                   lr={"sgd": 0.01, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.3,
                       "rmsprop": 0.01, "adadelta": 5.0, "adam": 0.05})


def value_and_grad_xy(expression: Expression, x: float, y: float) -> tuple[float, float, float]:
    """f, ∂f/∂x, ∂f/∂y at one point in float64 (the fast path of the optimizer loops): forward-mode
    derivatives in Python floats with autograd's formulas (`Expression.value_and_grad`)."""
    return expression.value_and_grad(x, y)


def autograd_value_and_grad_xy(expression: Expression, x: float, y: float) -> tuple[float, float, float]:
    """The same by float64 torch autograd (the reference; about 20 times slower). A formula that does
    not use x (or y) has a zero partial derivative there."""
    with torch.inference_mode(False), torch.enable_grad():
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ty = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        f = expression(tx, ty)
        if not f.requires_grad:  # a constant formula
            return float(f.detach()), 0.0, 0.0
        gx, gy = torch.autograd.grad(f, (tx, ty), allow_unused=True)
    return (float(f.detach()), 0.0 if gx is None else float(gx), 0.0 if gy is None else float(gy))


def value_and_grad(surface: Surface, point: np.ndarray) -> tuple[float, np.ndarray]:
    """f(point) and ∇f(point) (shape (2,)) in float64 (autograd's derivative formulas, evaluated
    forward in Python floats; `autograd_value_and_grad_xy` is the torch.autograd reference)."""
    p = np.asarray(point, dtype=np.float64).reshape(2)  # (2,)
    f, gx, gy = value_and_grad_xy(surface.parsed, float(p[0]), float(p[1]))
    return f, np.array([gx, gy], dtype=np.float64)


def grid(surface: Surface, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xs (n,), ys (n,) over the surface's window and Z (n, n) with Z[i, j] = f(xs[j], ys[i]);
    non-finite values become nan (a gap in the contour plot)."""
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_GRID:
        raise ValueError(_("The grid needs between 2 and {max} points per axis, not {n}.").format(
            max=MAX_GRID, n=n))
    xs = np.linspace(*surface.x_range, int(n))  # (n,)
    ys = np.linspace(*surface.y_range, int(n))  # (n,)
    gx = torch.as_tensor(xs).reshape(1, -1).expand(len(ys), -1)  # (n, n): x varies along columns
    gy = torch.as_tensor(ys).reshape(-1, 1).expand(-1, len(xs))  # (n, n): y varies along rows
    with torch.inference_mode():
        z = surface(gx, gy).to(torch.float64).numpy().copy()  # (n, n)
    z[~np.isfinite(z)] = np.nan
    return xs, ys, z
