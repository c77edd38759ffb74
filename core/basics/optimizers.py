"""Seven optimizers written out by hand, step by step, and checked against torch.optim.

`step(cfg, params, grad, state, t)` is one update of the parameters θ = (x, y) in numpy float64,
following torch.optim's formulas exactly (torch 2.x `_single_tensor_*` functions, in the same
order of operations, eps added where torch adds it), so that `trajectory` (ours) and
`torch_trajectory` (torch.optim.SGD / Adagrad / RMSprop / Adadelta / Adam on a float64 tensor)
agree to rounding; `max_deviation` measures by how much. `UPDATE_RULES` shows the same formulas
in LaTeX, with the state names of `STATE_NAMES`.

The hyper-parameters are torch's defaults unless given: dampening 0 and no weight decay
everywhere; AdaGrad with lr_decay 0 and eps 1e-10; RMSProp with alpha 0.99, eps 1e-8, not
centred, no momentum; AdaDelta with rho 0.9, eps 1e-6; Adam with betas (0.9, 0.999), eps 1e-8,
bias-corrected, no AMSGrad.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from core.basics.surfaces import SURFACES, Surface, value_and_grad_xy
from core.i18n import N_, _

MAX_STEPS = 2000  # most steps of one trajectory
DIVERGED = 1e6  # a path whose |coordinate| exceeds this has diverged (it is cut there)
MAX_LR = 1e4  # largest learning rate accepted
CONVERGED = 1e-8  # |gradient| below which a path has arrived (max_deviation compares up to there)

OPTIMIZERS: dict[str, str] = {
    "sgd": N_("SGD"),
    "momentum": N_("Momentum"),
    "nesterov": N_("Nesterov momentum"),
    "adagrad": N_("AdaGrad"),
    "rmsprop": N_("RMSProp"),
    "adadelta": N_("AdaDelta"),
    "adam": N_("Adam"),
}

DEFAULT_EPS: dict[str, float] = {  # torch.optim's default eps for each optimizer that has one
    "adagrad": 1e-10,
    "rmsprop": 1e-8,
    "adadelta": 1e-6,
    "adam": 1e-8,
}
DEFAULT_LR: dict[str, float] = {  # torch.optim's default lr (SGD has none; 0.01 is a common choice)
    "sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "rmsprop": 0.01,
    "adadelta": 1.0, "adam": 0.001,
}

# Which OptimConfig fields each optimizer uses (to show only those controls).
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr",),
    "momentum": ("lr", "momentum"),
    "nesterov": ("lr", "momentum"),
    "adagrad": ("lr", "eps"),
    "rmsprop": ("lr", "alpha", "eps"),
    "adadelta": ("lr", "rho", "eps"),
    "adam": ("lr", "beta1", "beta2", "eps"),
}

STATE_NAMES: dict[str, dict[str, str]] = {
    "sgd": {},
    "momentum": {"v": N_("velocity v")},
    "nesterov": {"v": N_("velocity v")},
    "adagrad": {"s": N_("sum of squared gradients s")},
    "rmsprop": {"s": N_("moving average of squared gradients s")},
    "adadelta": {"s": N_("moving average of squared gradients s"),
                 "u": N_("moving average of squared updates u")},
    "adam": {"m": N_("first moment m (moving average of gradients)"),
             "v": N_("second moment v (moving average of squared gradients)")},
}

# The updates as `step` computes them; g_t² and the division and square root are elementwise.
# η = lr, μ = momentum, α = alpha, ρ = rho, β₁ = beta1, β₂ = beta2, ε = eps; every state starts at 0.
UPDATE_RULES: dict[str, str] = {
    "sgd": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
\theta_t &= \theta_{t-1} - \eta\, g_t
\end{aligned}""",
    "momentum": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
v_t &= \mu\, v_{t-1} + g_t \qquad (v_0 = 0) \\
\theta_t &= \theta_{t-1} - \eta\, v_t
\end{aligned}""",
    "nesterov": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
v_t &= \mu\, v_{t-1} + g_t \qquad (v_0 = 0) \\
\theta_t &= \theta_{t-1} - \eta\,\left(g_t + \mu\, v_t\right)
\end{aligned}""",
    "adagrad": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
s_t &= s_{t-1} + g_t^2 \qquad (s_0 = 0) \\
\theta_t &= \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{s_t} + \varepsilon}
\end{aligned}""",
    "rmsprop": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
s_t &= \alpha\, s_{t-1} + (1 - \alpha)\, g_t^2 \qquad (s_0 = 0) \\
\theta_t &= \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{s_t} + \varepsilon}
\end{aligned}""",
    "adadelta": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
s_t &= \rho\, s_{t-1} + (1 - \rho)\, g_t^2 \qquad (s_0 = u_0 = 0) \\
\Delta\theta_t &= \frac{\sqrt{u_{t-1} + \varepsilon}}{\sqrt{s_t + \varepsilon}}\, g_t \\
u_t &= \rho\, u_{t-1} + (1 - \rho)\, \Delta\theta_t^2 \\
\theta_t &= \theta_{t-1} - \eta\, \Delta\theta_t
\end{aligned}""",
    "adam": r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) \\
m_t &= \beta_1\, m_{t-1} + (1 - \beta_1)\, g_t \qquad (m_0 = v_0 = 0) \\
v_t &= \beta_2\, v_{t-1} + (1 - \beta_2)\, g_t^2 \\
\hat m_t &= \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t} \\
\theta_t &= \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \varepsilon}
\end{aligned}""",
}


def _in_range(value: float, lo: float, hi: float, lo_open: bool, hi_open: bool) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return False
    return (lo < value if lo_open else lo <= value) and (value < hi if hi_open else value <= hi)


@dataclass(frozen=True)
class OptimConfig:
    name: str  # one of OPTIMIZERS
    lr: float  # learning rate η (> 0)
    momentum: float = 0.9  # μ for "momentum" and "nesterov" (0 <= μ < 1)
    alpha: float = 0.99  # RMSProp's decay of the squared-gradient average (0 <= α < 1)
    rho: float = 0.9  # AdaDelta's decay of both averages (0 <= ρ < 1)
    beta1: float = 0.9  # Adam's decay of the gradient average (0 <= β₁ < 1)
    beta2: float = 0.999  # Adam's decay of the squared-gradient average (0 <= β₂ < 1)
    eps: float | None = None  # ε added for stability; None: torch's default for this optimizer

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(_("Unknown optimizer {name!r}; choose one of {names}.").format(
                name=self.name, names=", ".join(OPTIMIZERS)))
        if not _in_range(self.lr, 0.0, MAX_LR, True, False):
            raise ValueError(_("The learning rate must be a number above 0 and at most {max:g}, not "
                               "{lr}.").format(max=MAX_LR, lr=self.lr))
        for key, symbol in (("momentum", "μ"), ("alpha", "α"), ("rho", "ρ"), ("beta1", "β₁"),
                            ("beta2", "β₂")):
            value = getattr(self, key)
            if not _in_range(value, 0.0, 1.0, False, True):
                raise ValueError(_("{name} ({symbol}) must be at least 0 and below 1, not {value}.").format(
                    name=key, symbol=symbol, value=value))
        if self.eps is not None and not _in_range(self.eps, 0.0, 1.0, True, False):
            raise ValueError(_("eps (ε) must be above 0 and at most 1, not {value}.").format(value=self.eps))

    @property
    def torch_eps(self) -> float:
        """The ε used: the configured one, else torch's default for this optimizer (0 where unused)."""
        if self.eps is not None:
            return float(self.eps)
        return DEFAULT_EPS.get(self.name, 0.0)


def init_state(cfg: OptimConfig) -> dict[str, np.ndarray]:
    """Every state variable of `cfg.name` (the keys of STATE_NAMES), zeros of shape (2,)."""
    return {key: np.zeros(2, dtype=np.float64) for key in STATE_NAMES[cfg.name]}


def step(cfg: OptimConfig, params: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
         t: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One update θ_{t-1} -> θ_t given g_t = ∇f(θ_{t-1}); t counts from 1 (Adam's bias correction).
    Pure: returns new arrays, `params` and `state` are left as they were. Mirrors torch.optim's
    `_single_tensor_*` code line by line (see UPDATE_RULES for the maths)."""
    if not isinstance(t, (int, np.integer)) or t < 1:
        raise ValueError(_("The step number t counts from 1, not {t}.").format(t=t))
    theta = np.asarray(params, dtype=np.float64)  # (2,)
    g = np.asarray(grad, dtype=np.float64)  # (2,)
    lr, name = float(cfg.lr), cfg.name
    if name == "sgd":
        return theta - lr * g, {}
    if name in ("momentum", "nesterov"):
        mu = float(cfg.momentum)
        v = state["v"] * mu + g  # torch: buf = grad.clone() at t = 1, then buf.mul_(μ).add_(grad)
        update = g + mu * v if name == "nesterov" else v
        return theta - lr * update, {"v": v}
    eps = cfg.torch_eps
    if name == "adagrad":
        s = state["s"] + g * g  # state_sum.addcmul_(grad, grad, value=1)
        std = np.sqrt(s) + eps  # state_sum.sqrt().add_(eps)
        return theta + (-lr) * g / std, {"s": s}  # param.addcdiv_(grad, std, value=-clr), clr = lr
    if name == "rmsprop":
        alpha = float(cfg.alpha)
        s = state["s"] * alpha + (1 - alpha) * (g * g)  # square_avg.mul_(α).addcmul_(g, g, value=1-α)
        avg = np.sqrt(s) + eps  # square_avg.sqrt().add_(eps)
        return theta + (-lr) * g / avg, {"s": s}  # param.addcdiv_(grad, avg, value=-lr)
    if name == "adadelta":
        rho = float(cfg.rho)
        s = state["s"] * rho + (1 - rho) * (g * g)  # square_avg.mul_(ρ).addcmul_(g, g, value=1-ρ)
        std = np.sqrt(s + eps)  # square_avg.add(eps).sqrt_()
        delta = np.sqrt(state["u"] + eps) / std * g  # acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        u = state["u"] * rho + (1 - rho) * (delta * delta)  # acc_delta.mul_(ρ).addcmul_(Δ, Δ, value=1-ρ)
        return theta - lr * delta, {"s": s, "u": u}
    if name == "adam":
        beta1, beta2 = float(cfg.beta1), float(cfg.beta2)
        m = state["m"] + (1 - beta1) * (g - state["m"])  # exp_avg.lerp_(grad, 1-β₁)
        v = state["v"] * beta2 + (1 - beta2) * (g * g)  # exp_avg_sq.mul_(β₂).addcmul_(g, g, value=1-β₂)
        bias_correction1 = 1 - beta1 ** float(t)
        bias_correction2 = 1 - beta2 ** float(t)
        step_size = lr / bias_correction1
        denom = np.sqrt(v) / bias_correction2 ** 0.5 + eps  # (exp_avg_sq.sqrt() / √bc₂).add_(eps)
        return theta + (-step_size) * m / denom, {"m": m, "v": v}  # param.addcdiv_(m, denom, value=-step_size)
    raise ValueError(_("Unknown optimizer {name!r}.").format(name=name))  # unreachable: checked in cfg


@dataclass
class Trajectory:
    name: str  # the optimizer
    points: np.ndarray  # (T+1, 2): θ_0 (the start) ... θ_T
    losses: np.ndarray  # (T+1,): f(θ_t)
    grads: np.ndarray  # (T, 2): g_t = ∇f(θ_{t-1}), the gradient that made step t
    states: list[dict[str, np.ndarray]] = field(default_factory=list)  # state after each step, len T
    diverged_at: int | None = None  # first step whose point or loss was not finite or > 1e6 (not kept)
    seconds: float = 0.0  # time taken


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(_("The number of steps must be a whole number from 1 to {max}, not {steps}.").format(
            max=MAX_STEPS, steps=steps))
    return int(steps)


def _start(surface: Surface, start: tuple[float, float] | np.ndarray | None) -> np.ndarray:
    point = np.asarray(surface.start if start is None else start, dtype=np.float64)
    if point.shape != (2,) or not np.all(np.isfinite(point)) or np.max(np.abs(point)) > DIVERGED:
        raise ValueError(_("The start point must be two finite numbers (x, y) between -{max:g} and "
                           "{max:g}.").format(max=DIVERGED))
    return point


def _ok(point: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(point)) and np.max(np.abs(point)) <= DIVERGED)


def trajectory(surface: Surface, cfg: OptimConfig, start: tuple[float, float] | np.ndarray | None = None,
               steps: int = 200) -> Trajectory:
    """Run our `step` for `steps` steps from `start` (None: the surface's start). A path that
    leaves the finite world (a coordinate beyond 1e6, or f not finite) is cut before that step
    and `diverged_at` says which step it was."""
    steps = _check_steps(steps)
    began = time.perf_counter()
    point = _start(surface, start)
    expression = surface.parsed
    loss, gx, gy = value_and_grad_xy(expression, float(point[0]), float(point[1]))
    if not math.isfinite(loss):
        raise ValueError(_("f is not a finite number at the start ({x:g}, {y:g}); choose another start "
                           "point.").format(x=point[0], y=point[1]))
    points, losses, grads, states = [point], [loss], [], []
    state = init_state(cfg)
    diverged_at = None
    for t in range(1, steps + 1):
        grad = np.array([gx, gy])  # (2,)
        new_point, state = step(cfg, point, grad, state, t)
        if not _ok(new_point):
            diverged_at = t
            break
        loss, gx, gy = value_and_grad_xy(expression, float(new_point[0]), float(new_point[1]))
        if not math.isfinite(loss):
            diverged_at = t
            break
        points.append(new_point)
        losses.append(loss)
        grads.append(grad)
        states.append(state)
        point = new_point
    return Trajectory(
        name=cfg.name,
        points=np.array(points, dtype=np.float64).reshape(-1, 2),  # (T+1, 2)
        losses=np.array(losses, dtype=np.float64),  # (T+1,)
        grads=np.array(grads, dtype=np.float64).reshape(-1, 2),  # (T, 2)
        states=states,
        diverged_at=diverged_at,
        seconds=time.perf_counter() - began,
    )


def torch_optimizer(param: torch.Tensor, cfg: OptimConfig) -> torch.optim.Optimizer:
    """The torch.optim optimizer that `cfg` describes (single-tensor code path, as we mirror)."""
    name, lr, eps = cfg.name, float(cfg.lr), cfg.torch_eps
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else float(cfg.momentum)
        return torch.optim.SGD([param], lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               foreach=False)
    if name == "adagrad":
        return torch.optim.Adagrad([param], lr=lr, eps=eps, foreach=False)
    if name == "rmsprop":
        return torch.optim.RMSprop([param], lr=lr, alpha=float(cfg.alpha), eps=eps, foreach=False)
    if name == "adadelta":
        return torch.optim.Adadelta([param], lr=lr, rho=float(cfg.rho), eps=eps, foreach=False)
    return torch.optim.Adam([param], lr=lr, betas=(float(cfg.beta1), float(cfg.beta2)), eps=eps,
                            foreach=False)


def torch_trajectory(surface: Surface, cfg: OptimConfig, start: tuple[float, float] | np.ndarray | None = None,
                     steps: int = 200) -> np.ndarray:
    """The same run with torch.optim on a float64 parameter tensor of shape (2,): points (T+1, 2),
    cut like `trajectory` when the path diverges."""
    steps = _check_steps(steps)
    point = _start(surface, start)
    expression = surface.parsed
    points = [point]
    with torch.inference_mode(False), torch.enable_grad():
        param = torch.tensor(point, dtype=torch.float64, requires_grad=True)  # (2,)
        optimizer = torch_optimizer(param, cfg)
        for __ in range(steps):
            optimizer.zero_grad()
            loss = expression(param[0], param[1])
            if not torch.isfinite(loss):
                break
            if loss.requires_grad:
                loss.backward()
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            optimizer.step()
            new_point = param.detach().numpy().copy()  # (2,)
            if not _ok(new_point):
                break
            points.append(new_point)
    if len(points) > 1:  # drop a last point where f is not finite (as `trajectory` does)
        with torch.inference_mode():
            last = expression(*torch.as_tensor(points[-1]).unbind())
        if not torch.isfinite(last):
            points.pop()
    return np.array(points, dtype=np.float64).reshape(-1, 2)  # (T+1, 2)


def default_config(surface: Surface, name: str, **overrides: float) -> OptimConfig:
    """The optimizer `name` with this surface's default learning rate (or torch's) and `overrides`."""
    values: dict = {"lr": surface.lr.get(name, DEFAULT_LR.get(name, 0.01))}
    values.update(overrides)
    return OptimConfig(name=name, **values)


def run_all(surface: Surface, steps: int = 200, start: tuple[float, float] | None = None,
            configs: dict[str, OptimConfig] | None = None,
            on_step: Callable[[int, int, dict | None], None] | None = None) -> dict[str, Trajectory]:
    """Every optimizer's trajectory on `surface` (configs: name -> config, default: the surface's
    learning rates), in the order of OPTIMIZERS."""
    configs = configs or {name: default_config(surface, name) for name in OPTIMIZERS}
    out = {}
    for done, (name, cfg) in enumerate(configs.items(), start=1):
        out[name] = trajectory(surface, cfg, start=start, steps=steps)
        if on_step is not None:
            on_step(done, len(configs), {"optimizer": name})
    return out


def _converged_at(trajectory: Trajectory, tol: float) -> int | None:
    """The first t with |∇f(θ_t)| < tol (None: never within the path)."""
    norms = np.linalg.norm(trajectory.grads, axis=1)  # (T,): |g_{t+1}| = |∇f(θ_t)|
    small = np.flatnonzero(norms < tol)
    return int(small[0]) if len(small) else None


def deviations(surfaces: list[Surface] | None = None, steps: int = 200,
               configs: list[OptimConfig] | None = None, converged: float = CONVERGED,
               start: tuple[float, float] | np.ndarray | None = None) -> list[dict]:
    """Ours against torch.optim, one row per surface and optimizer: "surface", "optimizer", "lr",
    "compared" (points compared), "deviation" (largest |ours - torch| of a coordinate).

    Points are compared up to the first divergence of either path and up to the first point where
    the gradient is below `converged` (the path has arrived: from there on the gradient is rounding
    noise, and the adaptive methods, which divide it by its own running size, turn that noise into
    steps of size ~lr; two correct implementations, or torch on two CPUs, then part ways).
    `start`: where every path starts (None: each surface's own start)."""
    surfaces = list(SURFACES.values()) if surfaces is None else list(surfaces)
    rows = []
    for surface in surfaces:
        for cfg in configs or [default_config(surface, name) for name in OPTIMIZERS]:
            ours = trajectory(surface, cfg, start=start, steps=steps)
            theirs = torch_trajectory(surface, cfg, start=start, steps=steps)  # (T'+1, 2)
            n = min(len(ours.points), len(theirs))
            arrived = _converged_at(ours, converged)
            if arrived is not None:
                n = min(n, arrived + 1)
            gap = np.abs(ours.points[:n] - theirs[:n])  # (n, 2)
            rows.append({"surface": surface.name, "optimizer": cfg.name, "lr": cfg.lr, "compared": n,
                         "deviation": float(gap.max()) if n else 0.0})
    return rows


def max_deviation(surfaces: list[Surface] | None = None, steps: int = 200,
                  configs: list[OptimConfig] | None = None) -> float:
    """The largest |ours - torch.optim| of any coordinate of any point, over every optimizer (with
    each surface's default learning rate, or `configs`) and surface (default: the built-in ones);
    see `deviations` for which points are compared (≤ 1e-6 is the target)."""
    return max(row["deviation"] for row in deviations(surfaces, steps, configs))
