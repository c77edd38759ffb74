"""Batch, mini-batch and stochastic gradient descent (批量 / 小批量 / 随机梯度下降) on three small,
offline data sets, with the gradient-descent step written out by hand in numpy (float64):

    w <- w - lr * g,    g = (1/B) * sum over the batch of the per-example gradient.

Models (all linear in the weights, so every gradient is a closed formula):
- "digits": softmax regression (10 classes) on sklearn's 8x8 digits, cross-entropy loss;
- "diabetes": linear regression on sklearn's diabetes data, mean squared error (features and the
  target standardised, so the loss starts near 1); its least-squares optimum is known in closed form
  (`optimum_loss`), so a run can be compared with the best loss there is;
- "moons": logistic regression on `make_moons(n_samples=1000, noise=0.25, random_state=0)`,
  binary cross-entropy.

Every data set has one fixed 80/20 train/validation split (the seed of a run only changes the weight
initialisation and the order of the examples), features standardised with the training set's mean
and standard deviation, and a bias column of ones. The weights start at N(0, 0.01^2).

An epoch is one pass over the shuffled training set in ceil(N / B) batches (the last one may be
smaller); `epochs` may be fractional (`steps = round(epochs * ceil(N / B))`). The full training-set
loss and the validation loss are measured at about `eval_points` evenly spaced steps, step 0 and the
last step included: x-axis "step" (updates made) or "examples" (training examples looked at), the
fair axis for comparing batch sizes (one full-batch step costs N examples, one SGD step costs 1).

Public API: `DATASETS`, `GDConfig`, `load(name)`, `n_train(name)`, `loss_and_grad(name, w, X, y)`,
`optimum_loss(name)`, `run_gd(cfg, on_step=None, max_seconds=20.0, eval_points=200)`,
`compare(dataset, lr, epochs, seed, batch_sizes=None, ...)`, `batch_label(batch_size, n)`.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from core.device import check_seed
from core.i18n import N_, _

DATASETS: dict[str, str] = {
    "digits": N_("Digits: softmax regression, 10 classes"),
    "diabetes": N_("Diabetes: linear regression, squared error"),
    "moons": N_("Two moons: logistic regression"),
}
TASKS: dict[str, str] = {"digits": "softmax", "diabetes": "linear", "moons": "logistic"}

MAX_EPOCHS = 500  # upper bound on `epochs` per run
MAX_STEPS = 200_000  # upper bound on the number of updates per run
MAX_LR = 100.0  # upper bound on the learning rate
VAL_FRACTION = 0.2  # held-out share of every data set
SPLIT_SEED = 0  # the split is fixed: runs with different seeds see the same train/validation sets
INIT_STD = 0.01  # weights start at N(0, INIT_STD^2)


@dataclass(frozen=True)
class GDConfig:
    dataset: str  # a key of DATASETS
    batch_size: int  # examples per update: 1 (stochastic) .. n_train(dataset) (full batch)
    lr: float  # learning rate of w <- w - lr * g
    epochs: float  # passes over the training set (may be fractional, e.g. 0.5)
    seed: int  # initial weights and the order of the examples


@dataclass(frozen=True)
class Data:
    name: str  # a key of DATASETS
    task: str  # "softmax", "linear" or "logistic"
    X_train: np.ndarray  # (N, D + 1) float64, standardised, last column = 1 (bias)
    y_train: np.ndarray  # (N,) int64 class ids, or float64 targets for "linear"
    X_val: np.ndarray  # (M, D + 1)
    y_val: np.ndarray  # (M,)
    n_outputs: int  # columns of the weight matrix (10 for digits, 1 otherwise)


def _check_dataset(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(_("Unknown data set {name!r}: choose one of {choices}.").format(
            name=name, choices=", ".join(DATASETS)))
    return name


@functools.lru_cache(maxsize=None)
def load(name: str) -> Data:
    """The data set `name`, split 80/20 and standardised (cached per process; arrays read-only)."""
    _check_dataset(name)
    from sklearn import datasets as skd

    if name == "digits":
        X, y = skd.load_digits(return_X_y=True)
        y = y.astype(np.int64)
    elif name == "diabetes":
        X, y = skd.load_diabetes(return_X_y=True)
        y = y.astype(np.float64)
    else:
        X, y = skd.make_moons(n_samples=1000, noise=0.25, random_state=0)
        y = y.astype(np.int64)
    X = X.astype(np.float64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    n_val = int(round(VAL_FRACTION * len(X)))
    val, train = order[:n_val], order[n_val:]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std == 0] = 1.0  # constant pixels (digits' borders) stay 0 after centring
    Xs = (X - mean) / std
    Xs = np.hstack([Xs, np.ones((len(Xs), 1))])  # (N, D + 1): a bias column
    if name == "diabetes":
        y = (y - y[train].mean()) / y[train].std()
    arrays = [Xs[train], y[train], Xs[val], y[val]]
    for a in arrays:
        a.setflags(write=False)
    return Data(name, TASKS[name], *arrays, n_outputs=10 if name == "digits" else 1)


def n_train(name: str) -> int:
    """Number of training examples of a data set (the full-batch size)."""
    return len(load(name).X_train)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def loss_and_grad(task: str, w: np.ndarray, X: np.ndarray, y: np.ndarray, grad: bool = True):
    """Mean loss of the linear model with weights `w` (D + 1, K) on (X, y) and, if `grad`, its
    gradient averaged over the rows of X (same shape as w), written out by hand."""
    z = X @ w  # (B, K)
    B = len(X)
    if task == "softmax":
        logp = _log_softmax(z)  # (B, K)
        loss = -logp[np.arange(B), y].mean()
        if not grad:
            return float(loss), None
        p = np.exp(logp)
        p[np.arange(B), y] -= 1.0  # d loss_i / d z_i = softmax(z_i) - onehot(y_i)
        return float(loss), X.T @ p / B
    if task == "logistic":
        z = z[:, 0]  # (B,)
        loss = (np.logaddexp(0.0, z) - y * z).mean()  # -log sigmoid(z) or -log(1 - sigmoid(z))
        if not grad:
            return float(loss), None
        err = 0.5 * (1.0 + np.tanh(0.5 * z)) - y  # sigmoid(z) - y, overflow-free
        return float(loss), (X.T @ err / B)[:, None]
    err = z[:, 0] - y  # (B,)
    loss = (err**2).mean()
    if not grad:
        return float(loss), None
    return float(loss), (X.T @ err * (2.0 / B))[:, None]


@functools.lru_cache(maxsize=None)
def optimum_loss(name: str) -> float | None:
    """The least training loss there is: the least-squares solution's MSE for "diabetes" (closed
    form, `np.linalg.lstsq`); None for the classification data sets (no closed form)."""
    data = load(_check_dataset(name))
    if data.task != "linear":
        return None
    w, *unused = np.linalg.lstsq(data.X_train, data.y_train, rcond=None)
    return loss_and_grad("linear", w[:, None], data.X_train, data.y_train, grad=False)[0]


def _check(cfg: GDConfig, eval_points: int) -> int:
    n = n_train(_check_dataset(cfg.dataset))
    if not isinstance(cfg.batch_size, (int, np.integer)) or not 1 <= cfg.batch_size <= n:
        raise ValueError(_("The batch size must be a whole number from 1 to {n} (the whole training set); "
                           "got {b}.").format(n=n, b=cfg.batch_size))
    if not (isinstance(cfg.lr, (int, float)) and math.isfinite(cfg.lr) and 0 < cfg.lr <= MAX_LR):
        raise ValueError(_("The learning rate must be above 0 and at most {max_lr}; got {lr}.").format(
            max_lr=MAX_LR, lr=cfg.lr))
    if not (isinstance(cfg.epochs, (int, float)) and math.isfinite(cfg.epochs) and 0 < cfg.epochs <= MAX_EPOCHS):
        raise ValueError(_("The number of epochs must be above 0 and at most {max_epochs}; got {epochs}.").format(
            max_epochs=MAX_EPOCHS, epochs=cfg.epochs))
    if not 2 <= eval_points <= 10_000:
        raise ValueError(_("eval_points must be between 2 and 10000; got {k}.").format(k=eval_points))
    check_seed(cfg.seed)
    steps = max(1, round(cfg.epochs * math.ceil(n / cfg.batch_size)))
    if steps > MAX_STEPS:
        raise ValueError(_("{epochs} epochs with batch size {b} would take {steps} updates, more than the "
                           "{max_steps} allowed: use fewer epochs or a larger batch.").format(
            epochs=cfg.epochs, b=cfg.batch_size, steps=steps, max_steps=MAX_STEPS))
    return steps


def run_gd(cfg: GDConfig, on_step=None, max_seconds: float = 20.0, eval_points: int = 200) -> dict:
    """Train the data set's linear model by (mini-)batch gradient descent with the hand-written
    update w <- w - lr * g (g averaged over the batch).

    Returns {"step", "examples", "loss" (full training set), "val_loss", "epoch"}: numpy arrays at
    the evaluation moments; "seconds", "batch_size", "steps" (updates made), "planned_steps",
    "n_train", "stopped_by" ("epochs" | "time" | "diverged"), "diverged_at" (step or None),
    "optimum" (`optimum_loss`), "final_loss", "final_val_loss", "weights" (D + 1, K).
    `on_step(done, total, info)` is called at every evaluation with info = {"loss", "val_loss"}.
    A run whose loss stops being finite (learning rate too high) stops there.
    """
    total = _check(cfg, eval_points)
    data = load(cfg.dataset)
    X, y, N = data.X_train, data.y_train, len(data.X_train)
    B = int(cfg.batch_size)
    rng = np.random.default_rng(check_seed(cfg.seed))
    w = rng.normal(0.0, INIT_STD, size=(X.shape[1], data.n_outputs))  # (D + 1, K)
    eval_at = set(np.unique(np.round(np.linspace(0, total, eval_points)).astype(int)).tolist())
    rec = {"step": [], "examples": [], "loss": [], "val_loss": [], "epoch": []}
    t0 = time.perf_counter()
    stopped_by, diverged_at = "epochs", None
    examples, order, pos = 0, rng.permutation(N), 0

    def record(step: int) -> float:
        loss = loss_and_grad(data.task, w, X, y, grad=False)[0]
        val = loss_and_grad(data.task, w, data.X_val, data.y_val, grad=False)[0]
        for key, v in (("step", step), ("examples", examples), ("loss", loss), ("val_loss", val),
                       ("epoch", examples / N)):
            rec[key].append(v)
        if on_step is not None:
            on_step(step, total, {"loss": loss, "val_loss": val})
        return loss

    step = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        record(0)
        while step < total:
            if pos >= N:
                order, pos = rng.permutation(N), 0
            idx = order[pos:pos + B]  # the next batch; the last of an epoch may be smaller
            pos += B
            unused, g = loss_and_grad(data.task, w, X[idx], y[idx])
            w = w - cfg.lr * g  # the gradient-descent step
            step += 1
            examples += len(idx)
            diverged = not np.isfinite(w).all() or np.abs(w).max() > 1e12
            if step in eval_at or diverged or step == total:
                loss = record(step)
                if diverged or not math.isfinite(loss):
                    stopped_by, diverged_at = "diverged", step
                    break
            if time.perf_counter() - t0 > max_seconds:
                if rec["step"][-1] != step:
                    record(step)
                stopped_by = "time"
                break
    out = {k: np.asarray(v, dtype=np.int64 if k in ("step", "examples") else np.float64) for k, v in rec.items()}
    out.update(seconds=time.perf_counter() - t0, batch_size=B, steps=step, planned_steps=total, n_train=N,
               stopped_by=stopped_by, diverged_at=diverged_at, optimum=optimum_loss(cfg.dataset),
               final_loss=float(out["loss"][-1]), final_val_loss=float(out["val_loss"][-1]), weights=w)
    return out


def batch_label(batch_size: int, n: int) -> str:
    """"full batch (N = 1437)", "mini-batch (B = 32)" or "stochastic (B = 1)" (translated)."""
    if batch_size >= n:
        return _("full batch (B = N = {n})").format(n=n)
    if batch_size == 1:
        return _("stochastic (B = 1)")
    return _("mini-batch (B = {b})").format(b=batch_size)


def compare(dataset: str, lr: float, epochs: float, seed: int, batch_sizes=None, on_step=None,
            max_seconds: float = 20.0, eval_points: int = 200) -> dict[str, dict]:
    """`run_gd` for several batch sizes (None: full batch N, 32 and 1) with the same learning rate,
    epochs and seed: {batch_label(b, N): run}. `max_seconds` is shared by all runs; `on_step`
    receives the done/total of each run in turn and info["batch_size"]."""
    n = n_train(_check_dataset(dataset))
    sizes = (n, 32, 1) if batch_sizes is None else tuple(batch_sizes)
    if not sizes:
        raise ValueError(_("Give at least one batch size to compare."))
    cfgs = [GDConfig(dataset, int(min(b, n)) if isinstance(b, (int, np.integer)) else b, lr, epochs, seed)
            for b in sizes]
    for cfg in cfgs:
        _check(cfg, eval_points)
    t0, runs = time.perf_counter(), {}
    for cfg in cfgs:
        cb = None
        if on_step is not None:
            def cb(done, total, info, b=cfg.batch_size):
                on_step(done, total, {**(info or {}), "batch_size": b})
        left = max(0.0, max_seconds - (time.perf_counter() - t0))
        runs[batch_label(cfg.batch_size, n)] = run_gd(cfg, on_step=cb, max_seconds=left, eval_points=eval_points)
    return runs
