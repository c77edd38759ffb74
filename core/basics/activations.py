"""Activation functions, initialisation and normalisation (激活函数 / 初始化 / 归一化): why deep nets
saturate, vanish or die, and what Xavier/Kaiming initialisation and BatchNorm/LayerNorm do about it.

- `curve(name, xs)`: an activation and its closed-form derivative (the tests check them against
  autograd). sigmoid' = s(1 - s) <= 1/4 and tanh' = 1 - tanh^2 vanish for large |x| (saturation);
  ReLU' is 0 for x < 0 (a unit whose input is always negative is dead: no gradient ever reaches
  it); leaky ReLU keeps a slope of 0.01 there; GELU = x * Phi(x) (the exact erf form, torch's
  default). At exactly 0 the derivatives follow torch's autograd (ReLU' = 0, leaky ReLU' = 0.01).
- `layer_statistics(cfg)`: a deep MLP (64 -> width -> ... -> width -> 10) on one batch of
  standardised 8x8 digits, cross-entropy loss from a linear read-out against the digit labels;
  per hidden layer the post-activation values and the gradient of the loss with respect to them.
  Each hidden layer is Linear -> [BatchNorm | LayerNorm] -> activation. Weights (read-out included)
  follow `cfg.init`; biases start at `cfg.bias` (0 by default; the read-out's at 0):
  - "small": N(0, 0.01^2); "normal": N(0, 1);
  - "xavier": N(0, 2 / (fan_in + fan_out)) (Glorot, gain 1: made for tanh and sigmoid-like units);
  - "kaiming": N(0, 2 / fan_in) (He, for ReLU: half of the units are off, so twice the variance).
  The loss is the *sum* of the examples' cross-entropies, so each "grads" value is
  d loss_i / d a (the gradient of one example's loss with respect to one unit's activation),
  independent of the batch size. "weight_grad_std" adds the std of d loss / d W of the layer's Linear.
- `NORMALISATION_TABLE` and `normalisation_check(kind)`: which axes of a (B, T, C) tensor BatchNorm,
  LayerNorm and RMSNorm normalise over, shown numerically with torch's own modules.

What the numbers show (depth 10, width 128, batch 256, seed 0, no norm unless named; the tests
assert these properties; computed in float64 so tiny values stay exact instead of underflowing):
- saturation: sigmoid + "normal" has 62 % of its activations outside [0.02, 0.98] (tanh + "normal":
  82 % with |a| > 0.98); with "xavier" or "kaiming" under 2 %;
- vanishing gradients: sigmoid' <= 1/4, so even with "xavier" the gradient std falls from 0.12 at
  layer 10 to 2e-7 at layer 1 (梯度消失);
- "small" init collapses everything: activation std 0.09 -> 3e-10 (tanh) and 0.07 -> 1e-11 (ReLU)
  from layer 1 to 10 (each layer multiplies it by about 0.01 x sqrt(width)), and the gradients
  with it (1e-2 at layer 10, 1e-11..1e-12 at layer 1); sigmoid + "small": every unit ≈ 0.5;
- matched inits keep both O(1): ReLU + "kaiming" activation std 1.2 -> 1.5, gradient std 0.14 ->
  0.13; tanh + "xavier" 0.55 -> 0.22 (Glorot's gain 1 shrinks tanh slowly: 0.13 at layer 30),
  gradients 0.05 -> 0.11. Mismatched: ReLU + "xavier" loses half the variance per layer (0.68 ->
  0.04), ReLU + "normal" explodes (7 -> 1e9);
- BatchNorm / LayerNorm repair bad inits: with "small" or "normal" weights the activation std is
  0.54..0.65 in every layer (tanh, ReLU) and sigmoid + "normal" saturates 0.1 % instead of 62 %;
- dead ReLUs: a unit is dead when it outputs 0 for every example of the batch. Zero biases: none in
  layers 1-2, ~15 % by layer 10 (deep down a layer's inputs are so alike that some units are
  negative for all of them). The `bias` field makes it dramatic: with "kaiming" weights and every
  hidden bias at -0.5 / -1 / -2, 37 % / 52 % / 60 % of layer 10 is dead (seed 0; seeds 1 and 2 with
  bias -1: whole layers are dead from layer 5-7 on, and then no gradient reaches any layer below). With "normal" weights a bias of -1 changes nothing (pre-activations are ~1e1..1e9).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.device import builds_models, check_seed, make_generator
from core.i18n import N_, _

ACTIVATIONS: dict[str, str] = {
    "sigmoid": N_("sigmoid"),
    "tanh": N_("tanh"),
    "relu": N_("ReLU"),
    "leaky_relu": N_("leaky ReLU (slope 0.01)"),
    "gelu": N_("GELU"),
}
LEAKY_SLOPE = 0.01  # leaky ReLU's slope for x < 0 (torch's default)

INITS: dict[str, str] = {
    "small": N_("small: N(0, 0.01²)"),
    "normal": N_("standard normal: N(0, 1)"),
    "xavier": N_("Xavier (Glorot): N(0, 2 / (fan_in + fan_out))"),
    "kaiming": N_("Kaiming (He): N(0, 2 / fan_in)"),
}
NORMS: dict[str, str] = {
    "none": N_("none"),
    "batchnorm": N_("BatchNorm"),
    "layernorm": N_("LayerNorm"),
}

SATURATION = {"sigmoid": (0.02, 0.98), "tanh": (-0.98, 0.98)}  # activations outside count as saturated
SAMPLE = 5000  # at most this many values per layer in "activations" / "grads"
MAX_BIAS = 10.0  # |cfg.bias| bound


def _check_name(name: str, table: dict, what: str) -> str:
    if name not in table:
        raise ValueError(_("Unknown {what} {name!r}: choose one of {choices}.").format(
            what=what, name=name, choices=", ".join(table)))
    return name


def curve(name: str, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, derivatives) of activation `name` at `xs` (float64, closed forms)."""
    _check_name(name, ACTIVATIONS, _("activation"))
    x = np.asarray(xs, dtype=np.float64)
    if name == "sigmoid":
        s = 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)) without overflow
        return s, s * (1.0 - s)
    if name == "tanh":
        t = np.tanh(x)
        return t, 1.0 - t**2
    if name == "relu":
        return np.maximum(x, 0.0), (x > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(x > 0, x, LEAKY_SLOPE * x), np.where(x > 0, 1.0, LEAKY_SLOPE)
    from scipy.special import erf

    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))  # Phi(x)
    pdf = np.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)  # phi(x)
    return x * cdf, cdf + x * pdf


def activation_module(name: str) -> nn.Module:
    """The torch module of an activation (same functions as `curve`)."""
    _check_name(name, ACTIVATIONS, _("activation"))
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU,
            "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE)}[name]()


def init_linear(layer: nn.Linear, init: str, gen: torch.Generator, bias: float = 0.0) -> None:
    """Initialise `layer` in place by scheme `init` (INITS) from generator `gen`; bias = `bias`."""
    _check_name(init, INITS, _("initialisation"))
    with torch.no_grad():
        w = layer.weight
        fan_out, fan_in = w.shape
        if init == "small":
            nn.init.normal_(w, 0.0, 0.01, generator=gen)
        elif init == "normal":
            nn.init.normal_(w, 0.0, 1.0, generator=gen)
        elif init == "xavier":
            nn.init.xavier_normal_(w, gain=1.0, generator=gen)  # std = sqrt(2 / (fan_in + fan_out))
        else:
            nn.init.kaiming_normal_(w, a=0.0, mode="fan_in", nonlinearity="relu", generator=gen)  # sqrt(2/fan_in)
        if layer.bias is not None:
            layer.bias.fill_(bias)


@dataclass(frozen=True)
class DeepNetConfig:
    depth: int  # hidden layers, 2..30
    width: int  # units per hidden layer, 16..512
    activation: str  # a key of ACTIVATIONS
    init: str  # a key of INITS (weights of every Linear, read-out included)
    norm: str  # a key of NORMS, applied between each hidden Linear and its activation
    batch: int = 256  # digits in the batch (2..1797)
    seed: int = 0  # weights, and which digits are in the batch
    bias: float = 0.0  # initial value of every hidden bias (negative: switch ReLUs off; |bias| <= 10)


def _check_config(cfg: DeepNetConfig) -> None:
    if not isinstance(cfg.depth, (int, np.integer)) or not 2 <= cfg.depth <= 30:
        raise ValueError(_("The depth must be a whole number from 2 to 30 hidden layers; got {depth}.").format(
            depth=cfg.depth))
    if not isinstance(cfg.width, (int, np.integer)) or not 16 <= cfg.width <= 512:
        raise ValueError(_("The width must be a whole number from 16 to 512 units; got {width}.").format(
            width=cfg.width))
    if not isinstance(cfg.batch, (int, np.integer)) or not 2 <= cfg.batch <= 1797:
        raise ValueError(_("The batch must hold from 2 to 1797 digits; got {batch}.").format(batch=cfg.batch))
    if not (isinstance(cfg.bias, (int, float)) and math.isfinite(cfg.bias) and abs(cfg.bias) <= MAX_BIAS):
        raise ValueError(_("The initial bias must be between -{m} and {m}; got {bias}.").format(
            m=MAX_BIAS, bias=cfg.bias))
    _check_name(cfg.activation, ACTIVATIONS, _("activation"))
    _check_name(cfg.init, INITS, _("initialisation"))
    _check_name(cfg.norm, NORMS, _("normalisation"))
    check_seed(cfg.seed)


def _digits_batch(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from core.basics.batches import load

    data = load("digits")  # standardised 8x8 digits (training split), last column = bias
    X = np.concatenate([data.X_train, data.X_val])[:, :-1]  # (1797, 64) without the ones column
    y = np.concatenate([data.y_train, data.y_val])
    idx = np.random.default_rng(seed).choice(len(X), size=batch, replace=False)
    return torch.tensor(X[idx], dtype=torch.float64), torch.tensor(y[idx], dtype=torch.int64)


class DeepNet(nn.Module):
    """depth x (Linear -> norm -> activation), then a linear read-out to 10 logits."""

    def __init__(self, cfg: DeepNetConfig, n_in: int = 64, n_out: int = 10):
        super().__init__()
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.acts = nn.ModuleList()
        for i in range(cfg.depth):
            self.linears.append(nn.Linear(n_in if i == 0 else cfg.width, cfg.width))
            self.norms.append({"none": nn.Identity, "batchnorm": nn.BatchNorm1d,
                               "layernorm": nn.LayerNorm}[cfg.norm](cfg.width) if cfg.norm != "none"
                              else nn.Identity())
            self.acts.append(activation_module(cfg.activation))
        self.readout = nn.Linear(cfg.width, n_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        hidden = []
        for lin, norm, act in zip(self.linears, self.norms, self.acts):
            x = act(norm(lin(x)))  # (B, width)
            hidden.append(x)
        return self.readout(x), hidden


@builds_models
def build_deep_net(cfg: DeepNetConfig) -> DeepNet:
    """The network of `layer_statistics`, initialised from a per-call generator."""
    _check_config(cfg)
    model = DeepNet(cfg).double()  # float64: "small" init reaches 1e-40 and below, float32's denormals
    gen = make_generator(cfg.seed)
    for lin in model.linears:
        init_linear(lin, cfg.init, gen, bias=float(cfg.bias))
    init_linear(model.readout, cfg.init, gen, bias=0.0)
    return model


def _sample(values: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    flat = values.detach().reshape(-1).numpy()  # (B * width,)
    if len(flat) > SAMPLE:
        flat = flat[rng.choice(len(flat), size=SAMPLE, replace=False)]
    return flat.astype(np.float64)


def layer_statistics(cfg: DeepNetConfig) -> list[dict]:
    """One forward and backward pass of `build_deep_net(cfg)` on a batch of digits (training mode:
    BatchNorm uses the batch's statistics). Per hidden layer: "layer" (1-based), "activations" and
    "grads" (samples of at most 5000 post-activation values and of d loss_i / d activation),
    "act_mean", "act_std", "grad_std", "grad_rms", "weight_grad_std" (of the layer's Linear weight),
    "saturated" (share of activation values outside [0.02, 0.98] for sigmoid, |a| > 0.98 for tanh;
    0 for the others), "dead" (ReLU only: share of the layer's units that are 0 for every example of
    the batch; 0 for the others), "loss" (mean cross-entropy of the batch, the same in every row)."""
    _check_config(cfg)
    model = build_deep_net(cfg)
    X, y = _digits_batch(cfg.batch, cfg.seed)
    logits, hidden = model(X)
    for h in hidden:
        h.retain_grad()
    loss = nn.functional.cross_entropy(logits, y, reduction="sum")  # sum: grads are per example
    loss.backward()
    rng = np.random.default_rng(cfg.seed)
    mean_loss = float(loss.detach()) / cfg.batch
    rows = []
    for i, (h, lin) in enumerate(zip(hidden, model.linears), start=1):
        a = h.detach()
        g = h.grad if h.grad is not None else torch.zeros_like(a)
        if cfg.activation in SATURATION:
            lo, hi = SATURATION[cfg.activation]
            saturated = float(((a < lo) | (a > hi)).double().mean())
        else:
            saturated = 0.0
        dead = float((a == 0).all(dim=0).double().mean()) if cfg.activation == "relu" else 0.0
        a64, g64 = a.double(), g.double()
        rows.append({
            "layer": i,
            "activations": _sample(a, rng),
            "grads": _sample(g, rng),
            "act_mean": float(a64.mean()),
            "act_std": float(a64.std(unbiased=False)),
            "grad_std": float(g64.std(unbiased=False)),
            "grad_rms": float(g64.pow(2).mean().sqrt()),
            "weight_grad_std": float(lin.weight.grad.double().std(unbiased=False)),
            "saturated": saturated,
            "dead": dead,
            "loss": mean_loss,
        })
    return rows


# ---------------------------------------------------------------------------------------------
# normalisation layers on (B, T, C) activations
# ---------------------------------------------------------------------------------------------
NORMALISATION_TABLE: list[dict] = [
    {"method": "BatchNorm",
     "statistics over": N_("B and T, separately for each channel C (one mean and variance per channel)"),
     "learned": N_("γ, β: one per channel C"),
     "at inference": N_("running averages of the training batches' statistics (no batch needed)")},
    {"method": "LayerNorm",
     "statistics over": N_("C, separately for each example and position (b, t)"),
     "learned": N_("γ, β: one per channel C"),
     "at inference": N_("the same computation as in training (each token on its own)")},
    {"method": "RMSNorm",
     "statistics over": N_("C, separately for each (b, t), root mean square only: no mean subtracted"),
     "learned": N_("γ: one per channel C (no β)"),
     "at inference": N_("the same computation as in training (each token on its own)")},
]
NORM_KINDS: dict[str, str] = {"batchnorm": "BatchNorm", "layernorm": "LayerNorm", "rmsnorm": "RMSNorm"}


@builds_models
def _norm_module(kind: str, C: int) -> nn.Module:
    if kind == "batchnorm":
        return nn.BatchNorm1d(C)
    if kind == "layernorm":
        return nn.LayerNorm(C)
    return nn.RMSNorm(C)


def normalisation_check(kind: str, B: int = 4, T: int = 5, C: int = 6, seed: int = 0) -> dict:
    """Apply torch's `nn.BatchNorm1d` (on the (B, C, T) view, training mode), `nn.LayerNorm(C)` or
    `nn.RMSNorm(C)` (γ = 1, β = 0) to a random (B, T, C) tensor whose channels have different
    means and scales and whose examples different offsets, and measure the output:
    - "along": mean and std over the axes the method normalises, one per group (BatchNorm: per
      channel, shape (C,); LayerNorm/RMSNorm: per (b, t), shape (B, T)) -> ≈ 0 and ≈ 1 (RMSNorm:
      the root mean square ≈ 1, in "rms_along"; its mean is not 0);
    - "across": the same statistics over the *other* axes (BatchNorm: per (b, t) over C; LayerNorm:
      per channel over B and T) -> not 0 / 1.
    Returns {"kind", "method", "input", "output" (B, T, C) numpy, "mean_along", "std_along",
    "rms_along", "mean_across", "std_across", "along_axes", "across_axes" (English axis names),
    "max_abs_mean_along", "max_abs_std_along_minus_1"}. Stds are population stds (what the layers
    divide by)."""
    _check_name(kind, NORM_KINDS, _("normalisation"))
    for name, v, hi in (("B", B, 64), ("T", T, 64), ("C", C, 64)):
        if not isinstance(v, (int, np.integer)) or not 2 <= v <= hi:
            raise ValueError(_("{name} must be a whole number from 2 to {hi}; got {v}.").format(name=name, hi=hi, v=v))
    gen = make_generator(seed)
    z = torch.randn(B, T, C, generator=gen, dtype=torch.float64)  # (B, T, C)
    chan_mean = torch.linspace(-3.0, 3.0, C, dtype=torch.float64)  # (C,)
    chan_scale = torch.linspace(0.5, 4.0, C, dtype=torch.float64)  # (C,)
    example_shift = 2.0 * torch.randn(B, 1, 1, generator=gen, dtype=torch.float64)  # (B, 1, 1)
    x = chan_mean + chan_scale * z + example_shift  # (B, T, C)
    module = _norm_module(kind, C).double()
    module.train()
    with torch.no_grad():
        if kind == "batchnorm":
            out = module(x.transpose(1, 2)).transpose(1, 2)  # (B, C, T) in, back to (B, T, C)
            along_dims, across_dims = (0, 1), (2,)
        else:
            out = module(x)  # (B, T, C)
            along_dims, across_dims = (2,), (0, 1)
    mean_along = out.mean(dim=along_dims)
    std_along = out.std(dim=along_dims, unbiased=False)
    rms_along = out.pow(2).mean(dim=along_dims).sqrt()
    mean_across = out.mean(dim=across_dims)
    std_across = out.std(dim=across_dims, unbiased=False)
    target_std = rms_along if kind == "rmsnorm" else std_along
    return {
        "kind": kind,
        "method": NORM_KINDS[kind],
        "input": x.numpy(),
        "output": out.numpy(),
        "along_axes": "B, T" if kind == "batchnorm" else "C",
        "across_axes": "C" if kind == "batchnorm" else "B, T",
        "mean_along": mean_along.numpy(),
        "std_along": std_along.numpy(),
        "rms_along": rms_along.numpy(),
        "mean_across": mean_across.numpy(),
        "std_across": std_across.numpy(),
        "max_abs_mean_along": float(mean_along.abs().max()),
        "max_abs_std_along_minus_1": float((target_std - 1).abs().max()),
    }
