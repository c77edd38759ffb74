"""The Basics page's targets, measured the way the page runs them.

    .venv/bin/python benchmarks/basics.py
Ends with: basics: optim_max_dev=… cnn_digits_acc=… mlp_digits_acc=… cnn_train_s=… playground_step_ms=…
- optim_max_dev: the largest |ours − torch.optim| of any point of any trajectory, over the seven optimizers
  and the built-in surfaces (200 steps, float64). The baseline is torch.optim itself. Target ≤ 1e-6.
- cnn_digits_acc / cnn_train_s: the page's LeNet-style CNN (default config, seed 0) on the fixed held-out
  split of sklearn's 8×8 digits, trained with the page's budget. Target ≥ 0.98 in ≤ 30 s on 2 CPU cores.
  mlp_digits_acc: the baseline, an MLP with the same number of parameters trained the same way.
- playground_step_ms: one training step of the playground's default network (2×8, tanh, Adam, 300 moons
  points) plus the boundary redraw (60×60 grid, and the plotly figure serialised as the browser gets it).
  Median of 200. Target ≤ 50 ms. playground_train_only_ms: the step alone.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from core.basics import cnn, optimizers, playground  # noqa: E402
from core.device import make_generator  # noqa: E402


def optimizer_deviation() -> float:
    t0 = time.perf_counter()
    dev = optimizers.max_deviation(steps=200)
    print(f"optimizers: largest |ours - torch.optim| {dev:.2e} over 7 optimizers x built-in surfaces "
          f"({time.perf_counter() - t0:.1f} s)")
    return dev


def digits() -> tuple[float, float, float, list]:
    data = cnn.digits_split()
    cnn_cfg = cnn.CNNConfig()
    mlp_cfg = cnn.mlp_config_matching(cnn_cfg)
    out = {}
    for name, build, cfg in (("cnn", cnn.build_cnn, cnn_cfg), ("mlp", cnn.build_mlp, mlp_cfg)):
        model = build(cfg, 0)
        res = cnn.train(model, data, seed=0, max_seconds=30.0, augment=name == "cnn")  # as the page trains them
        out[name] = res
        print(f"{name}: {cnn.count_params(model):,} parameters, held-out accuracy {res['test_acc']:.4f} after "
              f"{res['epochs']} epochs in {res['seconds']:.1f} s (stopped by {res['stopped_by']})")
    per_seed = []
    for s in (1, 2):
        res = cnn.train(cnn.build_cnn(cnn_cfg, s), data, seed=s, max_seconds=30.0)
        per_seed.append(res["test_acc"])
        print(f"cnn seed {s}: held-out accuracy {res['test_acc']:.4f} in {res['seconds']:.1f} s")
    return out["cnn"]["test_acc"], out["mlp"]["test_acc"], out["cnn"]["seconds"], per_seed


def boundary_figure(model, data) -> str:
    """What the page sends per redraw: the grid's probabilities as a heatmap + contour, and the points."""
    gx, gy, P = playground.boundary(model, (-2.0, 3.0), (-1.5, 2.0), n=60)
    fig = go.Figure([go.Heatmap(x=gx, y=gy, z=P, zmin=0, zmax=1, colorscale="RdBu"),
                     go.Contour(x=gx, y=gy, z=P, contours=dict(start=0.5, end=0.5, coloring="lines"))])
    for split in ("train", "val"):
        fig.add_scatter(x=data[f"X_{split}"][:, 0], y=data[f"X_{split}"][:, 1], mode="markers")
    return fig.to_json()


def playground_step() -> tuple[float, float]:
    cfg = playground.PlaygroundConfig(depth=2, width=8, activation="tanh", optimizer="adam", lr=0.03, l2=0.0,
                                      dropout=0.0, batch_size=32)
    data = playground.make_data("moons", n=300, noise=0.2, seed=0)
    model = playground.new_model(cfg, 0)
    opt = playground.make_optimizer(model, cfg)
    gen, history = make_generator(0), []
    for _i in range(20):  # warm up
        playground.train_steps(model, opt, data, cfg, 1, gen, history)
        boundary_figure(model, data)
    full, train_only = [], []
    for _i in range(200):
        t0 = time.perf_counter()
        playground.train_steps(model, opt, data, cfg, 1, gen, history)
        t1 = time.perf_counter()
        boundary_figure(model, data)
        t2 = time.perf_counter()
        train_only.append((t1 - t0) * 1000)
        full.append((t2 - t0) * 1000)
    step_ms, train_ms = statistics.median(full), statistics.median(train_only)
    print(f"playground: one step + boundary redraw {step_ms:.1f} ms (step alone {train_ms:.2f} ms; median of 200); "
          f"accuracy after {history[-1]['step']} steps: train {history[-1]['train_acc']:.3f}, "
          f"validation {history[-1]['val_acc']:.3f}")
    return step_ms, train_ms


def main() -> None:
    dev = optimizer_deviation()
    step_ms, train_ms = playground_step()
    cnn_acc, mlp_acc, cnn_s, per_seed = digits()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"basics: optim_max_dev={dev:.1e} cnn_digits_acc={cnn_acc:.4f} mlp_digits_acc={mlp_acc:.4f} "
          f"cnn_train_s={cnn_s:.1f} playground_step_ms={step_ms:.1f} playground_train_only_ms={train_ms:.2f} "
          f"cnn_min_acc_seeds_0_2={min([cnn_acc, *per_seed]):.4f}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
