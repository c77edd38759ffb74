"""A playground network (in the spirit of TensorFlow Playground) on 2-D toy data, and the polynomial
under-/over-fitting demo (欠拟合 / 过拟合).

- `make_data(name, n, noise, seed, val_fraction)`: "moons", "circles", "xor", "spiral", two classes,
  points roughly in [-1.5, 1.5]^2; `noise` (0..1) scales each generator's jitter (moons: Gaussian
  std = noise; circles: 0.5 * noise; xor, spiral: 0.5 * noise).
- `new_model(cfg, seed)`: an MLP 2 -> width -> ... -> width -> 2 logits (depth hidden layers, each
  Linear -> activation [-> Dropout]); weights Kaiming-normal for ReLU-like activations, Xavier-normal
  for tanh and sigmoid, biases 0, all from the per-call generator.
- `make_optimizer(model, cfg)`: torch.optim with L2 (`weight_decay = cfg.l2`) on the weights only,
  never the biases. "momentum" is SGD with momentum 0.9.
- `train_steps(model, optimizer, data, cfg, n_steps, seed_or_generator, history)`: a few steps on
  random mini-batches, appending evaluations to `history`; the page calls it in chunks between
  redraws. `boundary(model, x_range, y_range, n)`: p(class 1) on an n x n grid (grids cached).
- `overfitting_point(history)`, `polynomial_fit(max_degree, n, noise, seed)`.

Speed (1 CPU thread, 300 points, depth 2, width 8, relu, adam): one `train_steps(n_steps=1)` plus
`boundary(n=60)` takes about 1.2 ms (median; 0.8 ms the step with its evaluation, 0.4 ms the
boundary), measured on a shared 2-core CPU under load; the tests require <= 10 ms.
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.basics.activations import ACTIVATIONS, activation_module
from core.basics.cnn import Dropout
from core.device import MAX_SEED, builds_models, check_seed, make_generator
from core.i18n import N_, _

DATASETS: dict[str, str] = {
    "moons": N_("two moons"),
    "circles": N_("circles"),
    "xor": N_("XOR (four quadrants)"),
    "spiral": N_("two spirals"),
}
# the activations the playground offers (all of core.basics.activations', built by activation_module), in
# the order of its menu; their labels are that module's
PLAYGROUND_ACTIVATIONS: dict[str, str] = {name: ACTIVATIONS[name] for name in ("relu", "tanh", "sigmoid",
                                                                                 "leaky_relu", "gelu")}
OPTIMIZERS: dict[str, str] = {
    "sgd": N_("SGD"),
    "momentum": N_("SGD with momentum 0.9"),
    "adam": N_("Adam"),
    "rmsprop": N_("RMSProp"),
    "adagrad": N_("Adagrad"),
}
MOMENTUM = 0.9  # of the "momentum" optimizer
MAX_LR = 10.0  # upper bound on the learning rate
MAX_STEPS_PER_CALL = 10_000  # upper bound on n_steps of one train_steps call
EVAL_EVERY = 5  # train_steps records an evaluation every this many steps (and at the end of each call)


def _check_name(name: str, table: dict, what: str) -> str:
    if name not in table:
        raise ValueError(_("Unknown {what} {name!r}: choose one of {choices}.").format(
            what=what, name=name, choices=", ".join(table)))
    return name


def _number(value, lo: float, hi: float, message: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(message)
    return value


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def make_data(name: str, n: int = 400, noise: float = 0.2, seed: int = 0, val_fraction: float = 0.3) -> dict:
    """n labelled 2-D points of data set `name`, shuffled and split: {"X_train" (n_tr, 2) float32,
    "y_train" (n_tr,) int64, "X_val", "y_val", "name", "noise"}."""
    _check_name(name, DATASETS, _("data set"))
    if not isinstance(n, (int, np.integer)) or not 50 <= n <= 5000:
        raise ValueError(_("The number of points must be a whole number from 50 to 5000; got {n}.").format(n=n))
    _number(noise, 0.0, 1.0, _("The noise must be between 0 and 1; got {noise}.").format(noise=noise))
    _number(val_fraction, 0.1, 0.5, _("The validation share must be between 0.1 and 0.5; got {v}.").format(
        v=val_fraction))
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    if name == "moons":
        from sklearn.datasets import make_moons

        X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
        X = (X - np.array([0.5, 0.25])) * np.array([1.0, 1.6])  # centred, about [-1.5, 1.5] x [-1.2, 1.2]
    elif name == "circles":
        from sklearn.datasets import make_circles

        X, y = make_circles(n_samples=n, noise=0.5 * noise, factor=0.5, random_state=seed)
        X = 1.3 * X
    elif name == "xor":
        X = rng.uniform(-1.0, 1.0, size=(n, 2))  # (n, 2)
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)  # 1 in quadrants I and III
        X = X + rng.normal(0.0, 0.5 * noise, size=X.shape)
    else:  # two interleaved spirals, 1.5 turns each
        y = np.arange(n) % 2
        t = rng.uniform(0.0, 1.0, size=n)  # (n,) position along the arm
        angle = 3.0 * math.pi * t + math.pi * y  # the second arm is the first turned by 180 degrees
        radius = 0.1 + 1.3 * t
        X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)  # (n, 2)
        X = X + rng.normal(0.0, 0.5 * noise, size=X.shape)
    order = rng.permutation(n)
    X, y = X[order].astype(np.float32), np.asarray(y)[order].astype(np.int64)
    n_val = int(round(val_fraction * n))
    return {"X_train": X[n_val:], "y_train": y[n_val:], "X_val": X[:n_val], "y_val": y[:n_val],
            "name": name, "noise": float(noise)}


def data_range(data: dict, margin: float = 0.3) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x_range, y_range) covering all points of `data` plus `margin`, for `boundary`."""
    X = np.concatenate([data["X_train"], data["X_val"]])
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    return (round(float(lo[0]), 2), round(float(hi[0]), 2)), (round(float(lo[1]), 2), round(float(hi[1]), 2))


# ---------------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlaygroundConfig:
    depth: int  # hidden layers, 1..6
    width: int  # units per hidden layer, 1..64
    activation: str  # a key of PLAYGROUND_ACTIVATIONS
    optimizer: str  # a key of OPTIMIZERS
    lr: float  # learning rate, (0, 10]
    l2: float  # weight decay on the weights (not the biases), 0..0.1
    dropout: float  # dropout probability after each hidden activation, 0..0.8
    batch_size: int = 32  # examples per step (capped at the training set's size), 1..1024

    def __post_init__(self):
        if not isinstance(self.depth, (int, np.integer)) or not 1 <= self.depth <= 6:
            raise ValueError(_("The depth must be a whole number from 1 to 6 hidden layers; got {d}.").format(
                d=self.depth))
        if not isinstance(self.width, (int, np.integer)) or not 1 <= self.width <= 64:
            raise ValueError(_("The width must be a whole number from 1 to 64 units; got {w}.").format(w=self.width))
        _check_name(self.activation, PLAYGROUND_ACTIVATIONS, _("activation"))
        _check_name(self.optimizer, OPTIMIZERS, _("optimizer"))
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= MAX_LR):
            raise ValueError(_("The learning rate must be above 0 and at most {m}; got {lr}.").format(
                m=MAX_LR, lr=self.lr))
        _number(self.l2, 0.0, 0.1, _("The L2 penalty must be between 0 and 0.1; got {l2}.").format(l2=self.l2))
        _number(self.dropout, 0.0, 0.8, _("The dropout rate must be between 0 and 0.8; got {p}.").format(
            p=self.dropout))
        if not isinstance(self.batch_size, (int, np.integer)) or not 1 <= self.batch_size <= 1024:
            raise ValueError(_("The batch size must be a whole number from 1 to 1024; got {b}.").format(
                b=self.batch_size))


@builds_models
def new_model(cfg: PlaygroundConfig, seed: int = 0) -> nn.Module:
    """An MLP 2 -> [width] * depth -> 2 logits, initialised from the per-call generator."""
    gen = make_generator(seed)
    layers: list[nn.Module] = []
    n_in = 2
    relu_like = cfg.activation in ("relu", "leaky_relu", "gelu")
    linears = []
    for unused in range(cfg.depth):
        lin = nn.Linear(n_in, cfg.width)
        linears.append(lin)
        layers += [lin, activation_module(cfg.activation)]
        if cfg.dropout > 0:
            layers.append(Dropout(cfg.dropout))  # masks from the training run's generator, not the global RNG
        n_in = cfg.width
    out = nn.Linear(n_in, 2)
    layers.append(out)
    with torch.no_grad():
        for lin in linears:
            if relu_like:
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu", generator=gen)
            else:
                nn.init.xavier_normal_(lin.weight, generator=gen)
            lin.bias.zero_()
        nn.init.xavier_normal_(out.weight, generator=gen)
        out.bias.zero_()
    return nn.Sequential(*layers)


def make_optimizer(model: nn.Module, cfg: PlaygroundConfig) -> torch.optim.Optimizer:
    """torch.optim optimizer `cfg.optimizer` with lr `cfg.lr` and L2 `cfg.l2` on the weights only."""
    weights = [p for p in model.parameters() if p.ndim > 1]
    biases = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": weights, "weight_decay": float(cfg.l2)}, {"params": biases, "weight_decay": 0.0}]
    lr = float(cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr)
    return torch.optim.Adagrad(groups, lr=lr)


def _tensors(data: dict) -> tuple[torch.Tensor, ...]:
    try:
        return tuple(torch.from_numpy(np.ascontiguousarray(data[k])) for k in ("X_train", "y_train", "X_val", "y_val"))
    except (KeyError, TypeError):
        raise ValueError(_("The data must be a dict from make_data with X_train, y_train, X_val and y_val.")) from None


def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = model(X)  # (N, 2)
    loss = nn.functional.cross_entropy(logits, y)
    acc = (logits.argmax(dim=1) == y).float().mean()
    return float(loss), float(acc)


def evaluate(model: nn.Module, data: dict) -> dict:
    """{"loss", "val_loss", "train_acc", "val_acc"} of `model` on `data` (eval mode, no dropout)."""
    Xtr, ytr, Xva, yva = _tensors(data)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            loss, acc = _evaluate(model, Xtr, ytr)
            val_loss, val_acc = _evaluate(model, Xva, yva) if len(yva) else (float("nan"), float("nan"))
    finally:
        model.train(was_training)
    return {"loss": loss, "val_loss": val_loss, "train_acc": acc, "val_acc": val_acc}


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, data: dict, cfg: PlaygroundConfig,
                n_steps: int, seed_or_generator, history: list, eval_every: int = EVAL_EVERY) -> list:
    """`n_steps` optimizer steps on random mini-batches of `cfg.batch_size` training points (drawn
    with replacement; the mean cross-entropy, L2 in the optimizer), continuing the run recorded in
    `history` (updated in place and returned): an empty history first gets the step-0 evaluation;
    then {"step", "loss", "val_loss", "train_acc", "val_acc"} (full training and validation sets,
    eval mode) every `eval_every` steps and after the last step of the call, so history[-1]["step"]
    is the number of steps made so far. `seed_or_generator`: a torch.Generator (kept by the caller
    across calls) or an int seed, combined with the current step so each chunk draws new batches.
    Stops early (recording the step) if the loss is no longer finite."""
    if not isinstance(n_steps, (int, np.integer)) or not 0 <= n_steps <= MAX_STEPS_PER_CALL:
        raise ValueError(_("The number of steps must be a whole number from 0 to {m}; got {n}.").format(
            m=MAX_STEPS_PER_CALL, n=n_steps))
    if not isinstance(eval_every, (int, np.integer)) or eval_every < 1:
        raise ValueError(_("eval_every must be a whole number of at least 1; got {k}.").format(k=eval_every))
    Xtr, ytr, Xva, yva = _tensors(data)
    done = int(history[-1]["step"]) if history else 0
    if isinstance(seed_or_generator, torch.Generator):
        gen = seed_or_generator
    else:
        gen = make_generator((check_seed(seed_or_generator) * 1_000_003 + done) % MAX_SEED)
    if not history:
        history.append({"step": 0, **evaluate(model, data)})
    n = len(ytr)
    B = min(int(cfg.batch_size), n)
    loss_fn = nn.functional.cross_entropy
    model.train()
    for module in model.modules():
        if isinstance(module, Dropout):
            module.generator = gen
    for i in range(1, n_steps + 1):
        idx = torch.randint(n, (B,), generator=gen)  # (B,) batch indices
        loss = loss_fn(model(Xtr[idx]), ytr[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step = done + i
        finite = math.isfinite(loss.item())
        if i == n_steps or step % eval_every == 0 or not finite:
            history.append({"step": step, **evaluate(model, data)})
        if not finite:
            break
    return history


@functools.lru_cache(maxsize=32)
def _grid(x_range: tuple[float, float], y_range: tuple[float, float], n: int):
    xs = np.linspace(x_range[0], x_range[1], n)
    ys = np.linspace(y_range[0], y_range[1], n)
    gx, gy = np.meshgrid(xs, ys)  # (n, n) each; row i = ys[i]
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32))  # (n * n, 2)
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys, points


def boundary(model: nn.Module, x_range, y_range, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs (n,), ys (n,), P (n, n)) with P[i, j] = p(class 1 | (xs[j], ys[i])), in eval mode under
    torch.inference_mode (the model's mode is restored). Grids are cached per (ranges, n)."""
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= 300:
        raise ValueError(_("The grid size must be a whole number from 2 to 300; got {n}.").format(n=n))
    try:
        xr = (float(x_range[0]), float(x_range[1]))
        yr = (float(y_range[0]), float(y_range[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(_("The ranges must be pairs of numbers (low, high).")) from None
    if not all(map(math.isfinite, xr + yr)) or xr[0] >= xr[1] or yr[0] >= yr[1]:
        raise ValueError(_("Each range must be two finite numbers, low < high; got {x} and {y}.").format(x=xr, y=yr))
    xs, ys, points = _grid(xr, yr, int(n))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits = model(points)  # (n * n, 2)
            p = torch.softmax(logits, dim=1)[:, 1].reshape(n, n)  # (n_y, n_x)
    finally:
        model.train(was_training)
    return xs, ys, p.numpy()


SMOOTH = 5  # evaluations in the trailing mean that over-fitting is judged on (mini-batch noise is not a trend)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each value and up to `window - 1` values before it."""
    sums = np.cumsum(np.insert(values, 0, 0.0))  # (N + 1,)
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (sums[idx] - sums[lo]) / (idx - lo)


def overfitting_point(history: list) -> dict | None:
    """Where the validation loss was lowest: {"step", "index", "val_loss", "loss" (training loss
    there), "overfits", "rise_step" (the first step at which it is judged to over-fit, or None)}.

    Judged on trailing means of `SMOOTH` evaluations (single noisy evaluations are not a trend): the
    network over-fits from the first evaluation after the smoothed validation minimum at which the
    smoothed validation loss is > 5 % above that minimum while the smoothed training loss is > 5 %
    below its value there (the training loss kept falling). None for fewer than 2 evaluations or no
    finite validation loss."""
    if not history or len(history) < 2:
        return None
    val = np.array([h.get("val_loss", np.nan) for h in history], dtype=np.float64)
    train = np.array([h.get("loss", np.nan) for h in history], dtype=np.float64)
    if not np.isfinite(val).any():
        return None
    best = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan)))
    rise_step = None
    if np.isfinite(val).all() and np.isfinite(train).all():
        sval, strain = _trailing_mean(val, SMOOTH), _trailing_mean(train, SMOOTH)
        sbest = int(np.argmin(sval))
        for j in range(sbest + 1, len(history)):
            if sval[j] > 1.05 * sval[sbest] and strain[j] < 0.95 * strain[sbest]:
                rise_step = int(history[j]["step"])
                break
    return {"step": int(history[best]["step"]), "index": best, "val_loss": float(val[best]),
            "loss": float(train[best]), "overfits": rise_step is not None, "rise_step": rise_step}


# ---------------------------------------------------------------------------------------------
# polynomial under- and over-fitting
# ---------------------------------------------------------------------------------------------
def true_function(x: np.ndarray) -> np.ndarray:
    """The smooth function behind the polynomial demo: sin(2 pi x)."""
    return np.sin(2.0 * np.pi * x)


def polynomial_fit(max_degree: int = 15, n: int = 20, noise: float = 0.3, seed: int = 0) -> dict:
    """Least-squares polynomials of degree 0..max_degree (Legendre basis on [0, 1], well
    conditioned) through n noisy training samples of sin(2 pi x), x uniform on [0, 1], scored on n
    more samples drawn the same way (the validation set). Returns {"degrees", "train_mse",
    "val_mse", "x_train", "y_train", "x_val", "y_val", "xs" (200-point grid), "curves" {degree: ys},
    "true" (sin on the grid), "best_degree" (lowest validation MSE)}. Train MSE never increases
    with the degree (nested models); validation MSE falls, then rises once the fit follows noise."""
    if not isinstance(max_degree, (int, np.integer)) or not 0 <= max_degree <= 20:
        raise ValueError(_("The highest degree must be a whole number from 0 to 20; got {d}.").format(d=max_degree))
    if not isinstance(n, (int, np.integer)) or not 5 <= n <= 500:
        raise ValueError(_("The number of samples must be a whole number from 5 to 500; got {n}.").format(n=n))
    _number(noise, 0.0, 1.0, _("The noise must be between 0 and 1; got {noise}.").format(noise=noise))
    rng = np.random.default_rng(check_seed(seed))
    x_train, x_val = rng.uniform(0.0, 1.0, size=n), rng.uniform(0.0, 1.0, size=n)
    y_train = true_function(x_train) + rng.normal(0.0, noise, size=n)
    y_val = true_function(x_val) + rng.normal(0.0, noise, size=n)
    xs = np.linspace(0.0, 1.0, 200)
    degrees = np.arange(max_degree + 1)
    train_mse, val_mse, curves = [], [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RankWarning when the degree reaches n - 1
        for d in degrees:
            fit = np.polynomial.Legendre.fit(x_train, y_train, int(d), domain=[0.0, 1.0])
            train_mse.append(float(np.mean((fit(x_train) - y_train) ** 2)))
            val_mse.append(float(np.mean((fit(x_val) - y_val) ** 2)))
            curves[int(d)] = fit(xs)
    val = np.array(val_mse)
    return {"degrees": degrees, "train_mse": np.array(train_mse), "val_mse": val,
            "x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val,
            "xs": xs, "curves": curves, "true": true_function(xs), "best_degree": int(np.argmin(val))}
