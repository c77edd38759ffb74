"""Basics: how a network learns. Optimizers on a loss surface, batch size and noise, activations and
normalisation, a playground network with its decision boundary, and convolutions. Thin UI over core.basics."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, queued, run_through_entry_point, seed, sync_url,
                           url_state)

run_through_entry_point()

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from core.basics import activations, batches, cnn, convolution, optimizers, playground, surfaces  # noqa: E402
from core.device import make_generator  # noqa: E402
from core.i18n import N_, _, language  # noqa: E402
from core.plots import heatmap, layer_histograms  # noqa: E402

COLORS = {"sgd": "#1f77b4", "momentum": "#ff7f0e", "nesterov": "#2ca02c", "adagrad": "#d62728",
          "rmsprop": "#9467bd", "adadelta": "#8c564b", "adam": "#e377c2"}
MAX_FRAMES = 40  # frames of the optimizer animation
MAX_POINTS = 150  # points drawn per optimizer path (longer runs are subsampled for the browser)
MAX_EXPR = 200  # characters of a typed f(x, y)
LR_SCALES = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]  # multipliers of each optimizer's default learning rate
GD_BATCHES = [2, 4, 8, 16, 32, 64, 128, 256, 512]  # mini-batch sizes offered on the batch-size tab
GD_LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]  # learning rates offered on the batch-size tab
PG_LRS = [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]  # the playground's learning rates (as TF Playground)
PG_STEPS = 2000  # most playground steps per click of Train
PG_SECONDS = 60  # most seconds per click of Train
PG_REDRAW_S = 0.25  # the decision boundary is redrawn at most this often while training
CNN_SECONDS = 30  # most seconds to train the CNN (and again the MLP) in the page

st.title(_("How a network learns"))
st.caption(_("The foundations every note starts with: gradient descent and its optimizers, batch size, activations "
             "and normalisation, over-fitting, and convolutions. Everything here is small enough to train while "
             "you watch."))

url_state({"ba_surface": "rosenbrock", "ba_expr": "sin(x) * cos(y) + 0.1 * (x**2 + y**2)", "ba_steps": 300,
           "ba_lr_scale": 1.0, "ba_momentum": 0.9, "ba_beta1": 0.9, "ba_beta2": 0.999, "ba_rho": 0.9,
           "ba_alpha": 0.99, "ba_start_x": 0.0, "ba_start_y": 0.0, "ba_custom_start": False,
           "ba_opt_list": ",".join(optimizers.OPTIMIZERS)},
          choices={"ba_surface": [*surfaces.SURFACES, "custom"], "ba_lr_scale": LR_SCALES},
          bounds={"ba_steps": (1, optimizers.MAX_STEPS), "ba_momentum": (0.0, 0.99), "ba_beta1": (0.0, 0.99),
                  "ba_beta2": (0.9, 0.9999), "ba_rho": (0.5, 0.99), "ba_alpha": (0.5, 0.999),
                  "ba_start_x": (-1e3, 1e3), "ba_start_y": (-1e3, 1e3)})
url_state({"ba_gd_data": "digits", "ba_gd_batch": 32, "ba_gd_lr": 0.1, "ba_gd_epochs": 5.0},
          choices={"ba_gd_data": list(batches.DATASETS), "ba_gd_batch": GD_BATCHES, "ba_gd_lr": GD_LRS},
          bounds={"ba_gd_batch": (2, 512), "ba_gd_lr": (0.001, 1.0), "ba_gd_epochs": (0.5, 20.0)})
url_state({"ba_act_depth": 10, "ba_act_width": 256, "ba_act_fn": "tanh", "ba_act_init": "xavier",
           "ba_act_norm": "none", "ba_act_bias": 0.0},
          choices={"ba_act_fn": list(activations.ACTIVATIONS), "ba_act_init": list(activations.INITS),
                   "ba_act_norm": list(activations.NORMS), "ba_act_width": [16, 32, 64, 128, 256, 512]},
          bounds={"ba_act_depth": (2, 30), "ba_act_bias": (-3.0, 3.0)})
url_state({"ba_pg_data": "moons", "ba_pg_noise": 0.2, "ba_pg_n": 300, "ba_pg_depth": 2, "ba_pg_width": 8,
           "ba_pg_act": "tanh", "ba_pg_opt": "adam", "ba_pg_lr": 0.03, "ba_pg_l2": 0.0, "ba_pg_dropout": 0.0,
           "ba_pg_batch": 32, "ba_pg_steps": 300, "ba_poly_degree": 3, "ba_poly_n": 20, "ba_poly_noise": 0.3},
          choices={"ba_pg_data": list(playground.DATASETS), "ba_pg_act": list(playground.PLAYGROUND_ACTIVATIONS),
                   "ba_pg_opt": list(playground.OPTIMIZERS), "ba_pg_lr": PG_LRS},
          bounds={"ba_pg_noise": (0.0, 1.0), "ba_pg_n": (50, 2000), "ba_pg_depth": (1, 6), "ba_pg_width": (1, 64),
                  "ba_pg_l2": (0.0, 0.1), "ba_pg_dropout": (0.0, 0.8), "ba_pg_batch": (1, 512),
                  "ba_pg_steps": (1, PG_STEPS), "ba_poly_degree": (0, 15), "ba_poly_n": (10, 200),
                  "ba_poly_noise": (0.0, 1.0)})
url_state({"ba_cv_source": "digit", "ba_cv_digit": 0, "ba_cv_kernel": "edge_x", "ba_cv_custom": "1 0 -1; 2 0 -2; 1 0 -1",
           "ba_cv_pad": 1, "ba_cv_stride": 1, "ba_cv_dil": 1, "ba_cv_pool": "max", "ba_cv_pool_size": 2,
           "ba_cv_pool_stride": 2, "ba_cv_row": 3, "ba_cv_col": 3, "ba_cnn_seconds": CNN_SECONDS},
          choices={"ba_cv_source": ["digit", "upload"], "ba_cv_kernel": [*convolution.KERNELS, "custom"],
                   "ba_cv_pool": ["max", "avg"]},
          bounds={"ba_cv_digit": (0, 1796), "ba_cv_pad": (0, 5), "ba_cv_stride": (1, 5), "ba_cv_dil": (1, 4),
                  "ba_cv_pool_size": (1, 4), "ba_cv_pool_stride": (1, 4), "ba_cv_row": (0, 200),
                  "ba_cv_col": (0, 200), "ba_cnn_seconds": (2, CNN_SECONDS)})

tab_opt, tab_batch, tab_act, tab_pg, tab_conv = lazy_tabs(
    [N_("🏔️ Optimizers"), N_("🎲 Batch size & noise"), N_("⚡ Activations & normalisation"),
     N_("🧪 Playground network"), N_("🔲 Convolutions")], key="ba_tab")


def _line_figure(title: str, x_title: str, y_title: str, log_x: bool = False, log_y: bool = False,
                 height: int = 360) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(title=x_title, type="log" if log_x else "linear", exponentformat="power"),
                      yaxis=dict(title=y_title, type="log" if log_y else "linear", exponentformat="power"),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def _play_controls(frames: list, prefix: str, buttons_y: float, slider_y: float, duration: int, redraw: bool,
                   active: int = 0) -> dict:
    """▶ / ⏸ buttons and a slider (layout arguments) for a figure's animation frames: `frames` is (frame name,
    slider label) pairs; the rows sit at `buttons_y` / `slider_y` (paper coordinates); the slider starts at
    `active`."""
    still = dict(frame=dict(duration=0, redraw=redraw), mode="immediate")
    return dict(
        updatemenus=[dict(type="buttons", x=0, y=buttons_y, xanchor="left", yanchor="top", direction="left", buttons=[
            dict(label=_("▶ Play"), method="animate",
                 args=[None, dict(frame=dict(duration=duration, redraw=redraw), fromcurrent=True, mode="immediate")]),
            dict(label=_("⏸ Pause"), method="animate",
                 args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(x=0.2, y=slider_y, len=0.8, yanchor="top", active=active,
                      currentvalue=dict(prefix=prefix),
                      steps=[dict(label=label, method="animate", args=[[name], still]) for name, label in frames])])


def _vec(v) -> str:
    """A state vector (or scalar) as short text for a table cell."""
    arr = np.atleast_1d(np.asarray(v, dtype=float))
    return "(" + ", ".join(f"{a:.4g}" for a in arr) + ")" if arr.size > 1 else f"{arr[0]:.4g}"


# =============================================================================================
# Optimizers on a loss surface
# =============================================================================================
@st.cache_resource(show_spinner=False, max_entries=64)
def _runs(surface: surfaces.Surface, configs: tuple, start: tuple, steps: int) -> dict:
    """Our trajectories and their largest difference from torch.optim's, per optimizer config.
    Deterministic, so shared by every session (read-only: a cache_resource hands out the object itself,
    not a pickled copy, which cost ~80 ms per rerun)."""
    out = {}
    checks = optimizers.deviations([surface], steps=steps, configs=list(configs), start=start)
    for cfg, check in zip(configs, checks):
        out[cfg.name] = (optimizers.trajectory(surface, cfg, start=start, steps=steps), check["deviation"])
    return out


@st.cache_resource(show_spinner=False, max_entries=32)
def _runs_table(surface: surfaces.Surface, configs: tuple, start: tuple, steps: int) -> pd.DataFrame:
    """Every point, gradient and optimizer state of every path, one row per (optimizer, step): the CSV download."""
    runs = _runs(surface, configs, start, steps)
    names = [c.name for c in configs]
    rows = []
    for o in names:
        traj = runs[o][0]
        for t in range(len(traj.points)):
            row = {"optimizer": o, "t": t, "x": traj.points[t, 0], "y": traj.points[t, 1],
                   "f": traj.losses[t]}
            if t >= 1 and t - 1 < len(traj.states):
                row.update({"gx": traj.grads[t - 1, 0], "gy": traj.grads[t - 1, 1]})
                for k, v in traj.states[t - 1].items():
                    arr = np.atleast_1d(v)
                    for i, a in enumerate(arr):
                        row[f"{k}[{i}]"] = float(a)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["optimizer", "t"])


@st.cache_data(show_spinner=False, max_entries=16)
def _grid(surface: surfaces.Surface) -> tuple:
    return surfaces.grid(surface, n=100)


def _surface() -> surfaces.Surface:
    name = st.session_state["ba_surface"]
    if name == "custom":
        text = str(st.session_state["ba_expr"])
        return surfaces.custom_surface(text)
    return surfaces.SURFACES[name]


@st.cache_resource(show_spinner=False, max_entries=32)
def _contour_cached(surface: surfaces.Surface, configs: tuple, start: tuple, steps: int, lang: str) -> go.Figure:
    """The animated contour figure, built once per view and language for every session (building its
    frames' plotly objects took ~0.3 s per rerun); read-only: st.plotly_chart copies it."""
    return _contour_figure(surface, _runs(surface, configs, start, steps), steps)


def _contour_figure(surface: surfaces.Surface, runs: dict, steps: int) -> go.Figure:
    xs, ys, Z = _grid(surface)
    finite = Z[np.isfinite(Z)]
    lo = float(finite.min()) if finite.size else 0.0
    # float32 throughout: plotly sends arrays as binary, and half the bytes is plenty on screen
    shown = np.log1p(np.clip(Z - lo, 0, None)).astype(np.float32)  # a log scale shows valleys and plateaus together
    fig = go.Figure(go.Contour(x=xs.astype(np.float32), y=ys.astype(np.float32), z=shown, colorscale="Viridis",
                               ncontours=30, opacity=0.85, customdata=Z.astype(np.float32), hovertemplate="x=%{x:.3f}<br>y=%{y:.3f}<br>f=%{customdata:.4g}"
                                                           "<extra></extra>",
                               colorbar=dict(title=dict(text="log(1+f−min)"))))
    for mx, my in surface.minima:
        fig.add_scatter(x=[mx], y=[my], mode="markers", marker=dict(symbol="star", size=14, color="white",
                                                                    line=dict(color="black", width=1)),
                        name=_("minimum"), showlegend=False, hoverinfo="skip")
    names = list(runs)
    frames_at = sorted(set(np.linspace(1, steps + 1, num=min(MAX_FRAMES, steps + 1)).astype(int).tolist()))
    first = len(fig.data)
    # at most MAX_POINTS points per path are drawn (every frame repeats its path so far)
    shown_idx = np.unique(np.linspace(0, steps, num=min(MAX_POINTS, steps + 1)).astype(int))

    def path(name, upto):
        pts = runs[name][0].points
        idx = shown_idx[(shown_idx < upto) & (shown_idx < len(pts))]
        if len(idx) and idx[-1] != min(upto, len(pts)) - 1:
            idx = np.append(idx, min(upto, len(pts)) - 1)  # always end the drawn path at the frame's step
        pts = pts[idx].astype(np.float32)  # (n, 2)
        return go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="lines+markers", name=_(optimizers.OPTIMIZERS[name]),
                          line=dict(color=COLORS[name], width=2), marker=dict(size=4, color=COLORS[name]))

    for name in names:
        fig.add_trace(path(name, steps + 1))
    fig.frames = [go.Frame(data=[path(name, k) for name in names], traces=list(range(first, first + len(names))),
                           name=str(k - 1)) for k in frames_at]
    fig.update_layout(
        height=640, margin=dict(l=10, r=10, t=50, b=10), title=_("Paths of the optimizers on f(x, y)"),
        xaxis=dict(title="x", range=list(surface.x_range)), yaxis=dict(title="y", range=list(surface.y_range)),
        legend=dict(orientation="h", y=-0.36),
        **_play_controls([(str(k - 1), str(k - 1)) for k in frames_at], _("step "), buttons_y=-0.2,
                         slider_y=-0.12, duration=80, redraw=False, active=len(frames_at) - 1))
    return fig


with tab_opt:
    if tab_opt.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Gradient descent walks downhill: θ ← θ − η ∇f(θ). On a long narrow valley it zig-zags across and "
            "crawls along; **momentum** (动量法) adds up past steps so the zig-zags cancel and the crawl speeds up; "
            "**AdaGrad**, **RMSProp** and **AdaDelta** give every coordinate its own step size from the sizes "
            "of its past gradients; **Adam** does both. All seven start from the same point: press ▶ to watch."))
        c1, c2, c3 = st.columns([2, 2, 1])
        c1.selectbox(_("Loss surface"), [*surfaces.SURFACES, "custom"], key="ba_surface",
                     format_func=lambda s: _(surfaces.SURFACES[s].label) if s in surfaces.SURFACES
                     else _("Type your own f(x, y)"))
        # the chosen optimizers travel in the link as "ba_opt_list=sgd,adam" (the URL holds plain values, not lists)
        if "ba_opts" not in st.session_state:
            st.session_state["ba_opts"] = [o for o in str(st.session_state["ba_opt_list"]).split(",")
                                           if o in optimizers.OPTIMIZERS] or list(optimizers.OPTIMIZERS)
        c2.multiselect(_("Optimizers"), list(optimizers.OPTIMIZERS), key="ba_opts",
                       format_func=lambda o: _(optimizers.OPTIMIZERS[o]))
        st.session_state["ba_opt_list"] = ",".join(st.session_state["ba_opts"])
        c3.number_input(_("Steps"), 1, optimizers.MAX_STEPS, step=10, key="ba_steps",
                        help=_("At most {n} steps.").format(n=optimizers.MAX_STEPS))
        if st.session_state["ba_surface"] == "custom":
            st.text_input(_("f(x, y) ="), key="ba_expr", max_chars=MAX_EXPR,
                          help=_("Numbers, x, y, pi, e, + − * / ** (a number as exponent), and sin cos tan exp log "
                                 "sqrt abs tanh sigmoid. Shown on −3 ≤ x, y ≤ 3."))
        with st.expander(_("Hyper-parameters and start point")):
            h1, h2, h3 = st.columns(3)
            h1.select_slider(_("Learning rate × (each optimizer's default for this surface)"), LR_SCALES,
                             key="ba_lr_scale")
            h2.slider(_("Momentum μ (momentum, Nesterov)"), 0.0, 0.99, step=0.01, key="ba_momentum")
            h3.slider(_("RMSProp decay α"), 0.5, 0.999, step=0.001, key="ba_alpha", format="%.3f")
            h4, h5, h6 = st.columns(3)
            h4.slider(_("AdaDelta decay ρ"), 0.5, 0.99, step=0.01, key="ba_rho")
            h5.slider(_("Adam β₁"), 0.0, 0.99, step=0.01, key="ba_beta1")
            h6.slider(_("Adam β₂"), 0.9, 0.9999, step=0.0001, key="ba_beta2", format="%.4f")
            s1, s2, s3 = st.columns(3)
            s1.checkbox(_("Choose the start point"), key="ba_custom_start")
            s2.number_input(_("start x"), -1e3, 1e3, step=0.1, key="ba_start_x",
                            disabled=not st.session_state["ba_custom_start"])
            s3.number_input(_("start y"), -1e3, 1e3, step=0.1, key="ba_start_y",
                            disabled=not st.session_state["ba_custom_start"])
        with guard(stop=False):
            surface = _surface()
            ss = st.session_state
            names = [o for o in optimizers.OPTIMIZERS if o in ss["ba_opts"]]
            if not names:
                raise ValueError(_("Pick at least one optimizer."))
            start = (float(ss["ba_start_x"]), float(ss["ba_start_y"])) if ss["ba_custom_start"] else surface.start
            steps = int(ss["ba_steps"])
            configs = tuple(optimizers.OptimConfig(
                name=o, lr=surface.lr[o] * float(ss["ba_lr_scale"]), momentum=float(ss["ba_momentum"]),
                alpha=float(ss["ba_alpha"]), rho=float(ss["ba_rho"]), beta1=float(ss["ba_beta1"]),
                beta2=float(ss["ba_beta2"])) for o in names)
            with st.spinner(_("Running the optimizers…")):
                runs = _runs(surface, configs, tuple(start), steps)
            st.caption(_(surface.note))
            fig = _contour_cached(surface, configs, tuple(start), steps, language())
            st.plotly_chart(fig, width="stretch", key="ba_contour")
            worst = max(dev for _traj, dev in runs.values())
            st.success(_("✓ Checked: every path above equals the one torch.optim takes with the same "
                         "hyper-parameters (largest difference {dev:.1e}; compared until a path diverges or "
                         "arrives, where the gradient is only rounding noise).").format(dev=worst), icon="🔬")
            with st.expander(_("The update rules, exactly as this page computes them"), expanded=False):
                lr_of = {c.name: c.lr for c in configs}
                for o in names:
                    st.markdown(f"**{_(optimizers.OPTIMIZERS[o])}** · η = {lr_of[o]:.4g}")
                    st.latex(optimizers.UPDATE_RULES[o])
            diverged = [o for o in names if runs[o][0].diverged_at is not None]
            if diverged:
                st.warning(_("Diverged (the path is cut where it left the chart for good): {names}. Lower the "
                             "learning rate.").format(names=", ".join(_(optimizers.OPTIMIZERS[o]) for o in diverged)))
            l1, l2 = st.columns(2)
            positive = all(np.nanmin(runs[o][0].losses) > 0 for o in names)  # a log axis shows the slow crawl
            loss_fig = _line_figure(_("f(θ) after each step"), _("step"), "f(θ)", log_y=positive)
            step_fig = _line_figure(_("Step length ‖θₜ − θₜ₋₁‖"), _("step"), _("length"), log_y=True)
            for o in names:
                traj = runs[o][0]
                loss_fig.add_scatter(y=traj.losses, mode="lines", name=_(optimizers.OPTIMIZERS[o]),
                                     line=dict(color=COLORS[o]))
                lengths = np.linalg.norm(np.diff(traj.points, axis=0), axis=1)  # (T,)
                step_fig.add_scatter(x=np.arange(1, len(lengths) + 1), y=lengths, mode="lines",
                                     name=_(optimizers.OPTIMIZERS[o]), line=dict(color=COLORS[o]))
            l1.plotly_chart(loss_fig, width="stretch", key="ba_opt_loss")
            l2.plotly_chart(step_fig, width="stretch", key="ba_opt_steplen")
            figure_downloads(fig, "optimizer_paths", "ba_opt_dl",
                             data=_runs_table(surface, configs, tuple(start), steps))

            st.subheader(_("Inside the optimizers, step by step"))
            ss["ba_inspect"] = min(int(ss.get("ba_inspect", 10)), steps)  # the run may have got shorter
            t = st.slider(_("Show the state after step"), 1, max(steps, 2), key="ba_inspect", disabled=steps == 1)
            table = []
            for o in names:
                traj = runs[o][0]
                if t > len(traj.states):
                    table.append({_("optimizer"): _(optimizers.OPTIMIZERS[o]), _("θ (x, y)"): _("diverged")})
                    continue
                row = {_("optimizer"): _(optimizers.OPTIMIZERS[o]), _("θ (x, y)"): _vec(traj.points[t]),
                       "f(θ)": f"{traj.losses[t]:.4g}", _("gradient g"): _vec(traj.grads[t - 1])}
                for k, v in traj.states[t - 1].items():
                    row[_(optimizers.STATE_NAMES[o].get(k, k))] = _vec(v)
                table.append(row)
            st.dataframe(pd.DataFrame(table).fillna(""), hide_index=True, width="stretch")
            st.caption(_("Velocity and squared-gradient sums are per coordinate (x, y): that is what lets "
                         "AdaGrad, RMSProp, AdaDelta and Adam take a big step along the flat direction and a small "
                         "one across the steep one."))

# =============================================================================================
# Batch size and noise
# =============================================================================================


@st.cache_data(show_spinner=False, max_entries=32)
def _gd_runs(dataset: str, batch: int, lr: float, epochs: float, seed_: int) -> dict:
    n = batches.n_train(dataset)
    return batches.compare(dataset, lr=lr, epochs=epochs, seed=seed_, batch_sizes=(n, min(batch, n), 1))


def _gd_name(run: dict, n: int) -> str:
    if run["batch_size"] >= n:
        return _("batch GD (all {n})").format(n=n)
    if run["batch_size"] == 1:
        return _("stochastic GD (1)")
    return _("mini-batch GD ({b})").format(b=run["batch_size"])


with tab_batch:
    if tab_batch.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Each step of gradient descent averages the gradient over a **batch** of examples. **Batch** "
            "gradient descent (批量梯度下降) uses the whole training set: exact, but one step per pass. "
            "**Stochastic** gradient descent (随机梯度下降) uses one example: a noisy direction, but as many steps "
            "per pass as there are examples. **Mini-batch** gradient descent (小批量梯度下降) sits between. Here all "
            "three get the same number of passes over the data (epochs) and the same learning rate."))
        st.latex(r"\theta \leftarrow \theta - \eta\, \frac{1}{|\mathcal{B}|} \sum_{i \in \mathcal{B}} "
                 r"\nabla_\theta\, \ell(x_i, y_i; \theta)")
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox(_("Data set"), list(batches.DATASETS), key="ba_gd_data",
                     format_func=lambda d: _(batches.DATASETS[d]))
        c2.select_slider(_("Mini-batch size"), GD_BATCHES, key="ba_gd_batch")
        c3.select_slider(_("Learning rate η"), GD_LRS, key="ba_gd_lr")
        c4.slider(_("Epochs (passes over the data)"), 0.5, 20.0, step=0.5, key="ba_gd_epochs")
        with guard(stop=False):
            ss = st.session_state
            with st.spinner(_("Running three kinds of gradient descent…")), queued("train", 30):
                runs = _gd_runs(ss["ba_gd_data"], int(ss["ba_gd_batch"]), float(ss["ba_gd_lr"]),
                                float(ss["ba_gd_epochs"]), seed())
            n = max(r["batch_size"] for r in runs.values())
            fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Training loss vs steps"),
                                                                _("Training loss vs examples seen")))
            palette = ["#1f77b4", "#ff7f0e", "#d62728"]
            rows = []
            for color, run in zip(palette, runs.values()):
                name = _gd_name(run, n)
                fig.add_scatter(x=np.maximum(run["step"], 1), y=run["loss"], mode="lines", name=name,
                                line=dict(color=color), row=1, col=1)
                fig.add_scatter(x=np.maximum(run["examples"], 1), y=run["loss"], mode="lines", name=name,
                                line=dict(color=color), showlegend=False, row=1, col=2)
                rows.append({_("method"): name, _("steps"): int(run["steps"]),
                             _("final training loss"): float(run["loss"][-1]),
                             _("final validation loss"): float(run["val_loss"][-1]),
                             _("seconds"): float(run["seconds"])})
            fig.update_xaxes(type="log", title_text=_("step (log scale)"), row=1, col=1)
            fig.update_xaxes(type="log", title_text=_("examples seen (log scale)"), row=1, col=2)
            fig.update_yaxes(title_text=_("loss on the whole training set"), row=1, col=1)
            fig.update_layout(height=420, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.25))
            st.plotly_chart(fig, width="stretch", key="ba_gd_fig")
            metric_cols = st.columns(len(rows))
            for col, row in zip(metric_cols, rows):
                col.metric(_("{method}: validation loss").format(method=row[_("method")]),
                           f"{row[_('final validation loss')]:.4f}",
                           help=_("validation loss after {steps:,} steps ({seconds:.2f} s)").format(
                               steps=row[_("steps")], seconds=row[_("seconds")]))
            figure_downloads(fig, "batch_size", "ba_gd_dl", data=pd.DataFrame(rows))
            # the caption reads its numbers off the curves above
            ordered = list(runs.values())  # full batch, mini-batch, stochastic
            k = max(int(ordered[0]["steps"]), 1)  # the full batch's steps
            at_k = [float(np.interp(k, r["step"], r["loss"])) for r in ordered]
            one_pass = [float(np.interp(n, r["examples"], r["loss"])) for r in ordered]
            best = min(rows, key=lambda r: r[_("final validation loss")])
            st.caption(_("After {k} steps (all the full batch takes), the training loss is {a:.3f} for batch GD, "
                         "{b:.3f} for mini-batch GD and {c:.3f} for stochastic GD: per step the big batch is the "
                         "most accurate. After one pass over the data ({n:,} examples seen) it is {a1:.3f}, {b1:.3f} "
                         "and {c1:.3f}: per example the small batches are far cheaper. Lowest validation loss at "
                         "the end: {best}. Raise the learning rate until stochastic GD bounces: that noise is why "
                         "its learning rate is usually lowered over time.").format(
                k=k, a=at_k[0], b=at_k[1], c=at_k[2], n=n, a1=one_pass[0], b1=one_pass[1], c1=one_pass[2],
                best=best[_("method")]))


# =============================================================================================
# Activations and normalisation
# =============================================================================================
@st.cache_resource(show_spinner=False, max_entries=64)
def _layer_stats(depth: int, width: int, fn: str, bias: float, init: str, norm: str, seed_: int) -> list:
    cfg = activations.DeepNetConfig(depth=depth, width=width, activation=fn, init=init, norm=norm, seed=seed_,
                                    bias=bias)
    return activations.layer_statistics(cfg)


with tab_act:
    if tab_act.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "An activation function makes a network more than one big linear map. Its **derivative** is what "
            "backpropagation multiplies by at every layer: sigmoid's is at most 0.25 and near 0 once |x| is "
            "large (the unit **saturates**), so in a deep sigmoid net the gradient shrinks layer after layer "
            "(梯度消失). ReLU's is exactly 1 for x > 0, but 0 for x < 0: a unit that is negative for every input "
            "never learns again (a **dead ReLU**)."))
        st.multiselect(_("Activation functions"), list(activations.ACTIVATIONS), default=list(activations.ACTIVATIONS),
                       key="ba_act_show", format_func=lambda a: _(activations.ACTIVATIONS[a]))
        xs = np.linspace(-6, 6, 601)
        fig = make_subplots(rows=1, cols=2, subplot_titles=(_("activation f(x)"), _("derivative f′(x)")))
        for i, name in enumerate(st.session_state["ba_act_show"]):
            ys, ds = activations.curve(name, xs)
            color = list(COLORS.values())[i % len(COLORS)]
            fig.add_scatter(x=xs, y=ys, mode="lines", name=_(activations.ACTIVATIONS[name]), line=dict(color=color),
                            row=1, col=1)
            fig.add_scatter(x=xs, y=ds, mode="lines", name=_(activations.ACTIVATIONS[name]), line=dict(color=color),
                            showlegend=False, row=1, col=2)
        fig.update_layout(height=340, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
        st.plotly_chart(fig, width="stretch", key="ba_act_curves")
        st.latex(r"\sigma'(x) = \sigma(x)(1-\sigma(x)) \le \tfrac14, \quad \tanh'(x) = 1-\tanh^2 x, \quad "
                 r"\mathrm{ReLU}'(x) = [x>0], \quad \mathrm{GELU}(x) = x\,\Phi(x)")

        st.subheader(_("A deep network at initialisation"))
        st.markdown(_(
            "Before any training, push a batch of digits through a deep MLP and send the loss's gradient back. "
            "Each column is one layer's histogram: how its activations (left) and the sizes of the gradients "
            "reaching them (right, on a log scale) are spread. With a bad "
            "initialisation the spread collapses to 0 or saturates within a few layers; **Xavier** "
            "(variance 2/(fan_in+fan_out), for tanh and sigmoid) and **Kaiming** (2/fan_in, for ReLU) keep it "
            "steady; **BatchNorm** and **LayerNorm** rescale every layer and rescue even a bad one."))
        d1, d2, d3, d4, d5, d6 = st.columns(6)
        d1.slider(_("Depth (hidden layers)"), 2, 30, key="ba_act_depth")
        d2.select_slider(_("Width"), [16, 32, 64, 128, 256, 512], key="ba_act_width")
        d3.selectbox(_("Activation"), list(activations.ACTIVATIONS), key="ba_act_fn",
                     format_func=lambda a: _(activations.ACTIVATIONS[a]))
        d4.selectbox(_("Initialisation"), list(activations.INITS), key="ba_act_init",
                     format_func=lambda a: _(activations.INITS[a]))
        d5.selectbox(_("Normalisation"), list(activations.NORMS), key="ba_act_norm",
                     format_func=lambda a: _(activations.NORMS[a]))
        d6.slider(_("Starting bias"), -3.0, 3.0, step=0.25, key="ba_act_bias",
                  help=_("Every hidden bias starts here. A negative bias with ReLU pushes units below 0 for every "
                         "input: dead ReLUs."))
        with guard(stop=False):
            ss = st.session_state
            args = (int(ss["ba_act_depth"]), int(ss["ba_act_width"]), ss["ba_act_fn"], float(ss["ba_act_bias"]))
            with st.spinner(_("Running the network once…")):
                stats = _layer_stats(*args, ss["ba_act_init"], ss["ba_act_norm"], seed())
            layers = [s["layer"] for s in stats]
            h1, h2 = st.columns(2)
            fig = layer_histograms([s["activations"] for s in stats], layers, _("Activations per layer (histograms)"),
                                   _("activation value"))
            h1.plotly_chart(fig, width="stretch", key="ba_act_hist")
            gfig = layer_histograms([s["grads"] for s in stats], layers, _("Gradient sizes per layer (histograms)"),
                                    "log₁₀ |∂L/∂a|", log_magnitude=True)
            h2.plotly_chart(gfig, width="stretch", key="ba_grad_hist")
            summary = pd.DataFrame([{_("layer"): s["layer"], _("activation std"): s["act_std"],
                                     _("gradient std"): s["grad_std"], _("saturated"): s["saturated"],
                                     _("dead"): s["dead"]} for s in stats])
            figure_downloads(fig, "layer_statistics", "ba_act_dl", data=summary)
            last = stats[-1]
            m1, m2, m3 = st.columns(3)
            m1.metric(_("activation std, last layer"), f"{last['act_std']:.3g}",
                      delta=f"{last['act_std'] / max(stats[0]['act_std'], 1e-30):.2g}× " + _("layer 1"),
                      delta_color="off")
            m2.metric(_("gradient std, first layer"), f"{stats[0]['grad_std']:.3g}",
                      delta=f"{stats[0]['grad_std'] / max(last['grad_std'], 1e-30):.2g}× " + _("last layer"),
                      delta_color="off")
            worst = max(stats, key=lambda s: max(s["saturated"], s["dead"]))
            m3.metric(_("most saturated or dead units"), f"{max(worst['saturated'], worst['dead']):.0%}",
                      delta=_("layer {layer}").format(layer=worst["layer"]), delta_color="off")

            # every initialisation, same activation and normalisation: which one keeps the signal alive?
            cmp_fig = make_subplots(rows=1, cols=2, subplot_titles=(_("activation std per layer"),
                                                                    _("gradient std per layer")))
            for i, init in enumerate(activations.INITS):
                other = stats if init == ss["ba_act_init"] else _layer_stats(*args, init, ss["ba_act_norm"], seed())
                layers = [s["layer"] for s in other]
                color = list(COLORS.values())[i]
                cmp_fig.add_scatter(x=layers, y=[max(s["act_std"], 1e-30) for s in other], mode="lines+markers",
                                    name=_(activations.INITS[init]), line=dict(color=color), row=1, col=1)
                cmp_fig.add_scatter(x=layers, y=[max(s["grad_std"], 1e-30) for s in other], mode="lines+markers",
                                    name=_(activations.INITS[init]), line=dict(color=color), showlegend=False,
                                    row=1, col=2)
            cmp_fig.update_yaxes(type="log", exponentformat="power")
            cmp_fig.update_xaxes(title_text=_("layer"))
            cmp_fig.update_layout(height=360, margin=dict(l=10, r=10, t=50, b=10),
                                  title=_("Every initialisation with {act} and {norm}").format(
                                      act=_(activations.ACTIVATIONS[ss["ba_act_fn"]]),
                                      norm=_(activations.NORMS[ss["ba_act_norm"]])),
                                  legend=dict(orientation="h", y=-0.25))
            st.plotly_chart(cmp_fig, width="stretch", key="ba_act_inits")

        st.subheader(_("What BatchNorm and LayerNorm normalise"))
        st.markdown(_(
            "Both subtract a mean and divide by a standard deviation, then scale and shift with learned γ and β. "
            "They differ in **which numbers** share a mean: for a batch of shape (B, T, C) — B sequences, T "
            "positions, C channels — BatchNorm averages each channel over the whole batch, LayerNorm averages "
            "each token over its own channels (which is why Transformers use LayerNorm: it doesn't depend on "
            "the batch or on padding)."))
        st.latex(r"\hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta")
        columns = {"method": N_("method"), "statistics over": N_("statistics over"), "learned": N_("learned"),
                   "at inference": N_("at inference")}
        st.table(pd.DataFrame([{_(columns.get(k, k)): _(v) for k, v in row.items()}
                               for row in activations.NORMALISATION_TABLE]))
        with guard(stop=False):
            for kind in ("batchnorm", "layernorm"):
                check = activations.normalisation_check(kind, seed=seed())
                st.markdown(_("**{method}** on a random (B, T, C) = (4, 5, 6) tensor: along {along}, every mean is "
                              "within {mean:.0e} of 0 and every standard deviation within {std:.0e} of 1; along {across} "
                              "the means still range from {lo:.2f} to {hi:.2f}.").format(
                    method=check["method"], along=check["along_axes"], across=check["across_axes"],
                    mean=max(check["max_abs_mean_along"], 1e-16), std=max(check["max_abs_std_along_minus_1"], 1e-16),
                    lo=float(np.min(check["mean_across"])), hi=float(np.max(check["mean_across"]))))
            st.caption(_("Computed just now with torch's nn.BatchNorm1d and nn.LayerNorm (the standard deviation is "
                         "not exactly 1 because of the ε under the square root)."))


# =============================================================================================
# A playground network
# =============================================================================================
PG_SESSION = "_ba_pg"  # session_state: the playground network, its optimizer and history


@st.cache_data(show_spinner=False, max_entries=32)
def _pg_data(name: str, n: int, noise: float, seed_: int) -> dict:
    return playground.make_data(name, n=n, noise=noise, seed=seed_)


def _pg_config() -> playground.PlaygroundConfig:
    ss = st.session_state
    return playground.PlaygroundConfig(depth=int(ss["ba_pg_depth"]), width=int(ss["ba_pg_width"]),
                                       activation=ss["ba_pg_act"], optimizer=ss["ba_pg_opt"], lr=float(ss["ba_pg_lr"]),
                                       l2=float(ss["ba_pg_l2"]), dropout=float(ss["ba_pg_dropout"]),
                                       batch_size=int(ss["ba_pg_batch"]))


def _boundary_figure(model, data: dict, title: str) -> go.Figure:
    x_range, y_range = playground.data_range(data)
    fig = go.Figure()
    if model is not None:
        gx, gy, P = playground.boundary(model, x_range, y_range, n=60)
        fig.add_trace(go.Heatmap(x=gx, y=gy, z=P, zmin=0, zmax=1, colorscale="RdBu", opacity=0.75,
                                 colorbar=dict(title=dict(text="p(class 1)")),
                                 hovertemplate="p=%{z:.2f}<extra></extra>"))
        fig.add_trace(go.Contour(x=gx, y=gy, z=P, showscale=False, contours=dict(start=0.5, end=0.5, coloring="lines"),
                                 line=dict(color="black", width=2), hoverinfo="skip"))
    for split, symbol in (("train", "circle"), ("val", "x")):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        fig.add_scatter(x=X[:, 0], y=X[:, 1], mode="markers",
                        name=_("training points") if split == "train" else _("validation points"),
                        marker=dict(symbol=symbol, size=6, color=np.where(y == 1, "#08306b", "#67000d"),
                                    line=dict(color="white", width=0.5)))
    fig.update_layout(title=title, height=460, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(range=list(x_range), title="x₁"), yaxis=dict(range=list(y_range), title="x₂",
                                                                             scaleanchor="x"),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def _pg_loss_figure(history: list) -> go.Figure:
    fig = _line_figure(_("Training vs validation loss"), _("step"), _("cross-entropy loss"), height=460)
    if history:
        steps = [h["step"] for h in history]
        fig.add_scatter(x=steps, y=[h["loss"] for h in history], mode="lines", name=_("training"),
                        line=dict(color="#1f77b4"))
        fig.add_scatter(x=steps, y=[h["val_loss"] for h in history], mode="lines", name=_("validation"),
                        line=dict(color="#d62728"))
        point = playground.overfitting_point(history)
        if point is not None:
            fig.add_vline(x=point["step"], line=dict(color="#d62728", dash="dot"),
                          annotation_text=_("over-fitting starts") if point["overfits"] else _("lowest validation loss"))
    return fig


with tab_pg:
    if tab_pg.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "A small multilayer perceptron (多层感知机) learns to separate two classes of points in the plane. "
            "Pick the data, the network and the training; press **Train** and watch the decision boundary "
            "(black line, p = 0.5) bend while the losses fall. Make the network big, the data small and noisy, "
            "and the validation loss turns up while the training loss keeps falling: **over-fitting** (过拟合). "
            "**L2** (权重衰减, weight decay) and **dropout** (丢弃法) push back."))
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox(_("Data"), list(playground.DATASETS), key="ba_pg_data",
                     format_func=lambda d: _(playground.DATASETS[d]))
        c2.slider(_("Noise"), 0.0, 1.0, step=0.05, key="ba_pg_noise")
        c3.slider(_("Points"), 50, 2000, step=50, key="ba_pg_n", help=_("30 % of them are held out for validation."))
        c4.slider(_("Steps per click of Train"), 1, PG_STEPS, step=10, key="ba_pg_steps",
                  help=_("At most {s} seconds per click.").format(s=PG_SECONDS))
        n1, n2, n3, n4 = st.columns(4)
        n1.slider(_("Hidden layers"), 1, 6, key="ba_pg_depth")
        n2.slider(_("Neurons per layer"), 1, 64, key="ba_pg_width")
        n3.selectbox(_("Activation"), list(playground.PLAYGROUND_ACTIVATIONS), key="ba_pg_act",
                     format_func=lambda a: _(playground.PLAYGROUND_ACTIVATIONS[a]))
        n4.selectbox(_("Optimizer"), list(playground.OPTIMIZERS), key="ba_pg_opt",
                     format_func=lambda o: _(playground.OPTIMIZERS[o]))
        o1, o2, o3, o4 = st.columns(4)
        o1.select_slider(_("Learning rate"), PG_LRS, key="ba_pg_lr")
        o2.slider(_("L2 (weight decay)"), 0.0, 0.1, step=0.001, format="%.3f", key="ba_pg_l2")
        o3.slider(_("Dropout"), 0.0, 0.8, step=0.05, key="ba_pg_dropout")
        o4.slider(_("Batch size"), 1, 512, key="ba_pg_batch")
        b1, b2, b3 = st.columns([1, 1, 3])
        train = b1.button(_("▶ Train"), key="ba_pg_train", type="primary")
        reset = b2.button(_("↺ New network"), key="ba_pg_reset")
        with guard(stop=False):
            ss = st.session_state
            cfg = _pg_config()
            data_key = (ss["ba_pg_data"], int(ss["ba_pg_n"]), float(ss["ba_pg_noise"]), seed())
            data = _pg_data(*data_key)
            sess = ss.get(PG_SESSION)
            if reset or sess is None or sess["cfg"] != cfg or sess["data_key"] != data_key:
                # a new network for new settings (as TensorFlow Playground does); it and its history go into the
                # session before any training loop, so Stop keeps what was trained
                model = playground.new_model(cfg, seed())
                sess = {"model": model, "optimizer": playground.make_optimizer(model, cfg), "cfg": cfg,
                        "data_key": data_key, "history": [], "generator": make_generator(seed())}
                ss[PG_SESSION] = sess
            b3.caption(_("Changing any setting starts a new network; Train again to continue this one."))
            left, right = st.columns(2)
            board, curves = left.empty(), right.empty()
            if train:
                with queued("train", 20):
                    b3.button(_("⏹ Stop"), key="ba_pg_stop")
                    bar = st.progress(0.0, text=_("training…"))
                    total = int(ss["ba_pg_steps"])
                    done, t0, last, redraws = 0, time.monotonic(), 0.0, 0
                    while done < total and time.monotonic() - t0 < PG_SECONDS:
                        chunk = min(25, total - done)
                        playground.train_steps(sess["model"], sess["optimizer"], data, cfg, chunk, sess["generator"],
                                               sess["history"])
                        done += chunk
                        if time.monotonic() - last >= PG_REDRAW_S or done >= total:
                            last, redraws = time.monotonic(), redraws + 1
                            h = sess["history"][-1]
                            board.plotly_chart(_boundary_figure(sess["model"], data, _("step {step} · validation "
                                                                                        "accuracy {acc:.0%}").format(
                                step=h["step"], acc=h["val_acc"])), width="stretch", key=f"ba_pg_live_{redraws}")
                            curves.plotly_chart(_pg_loss_figure(sess["history"]), width="stretch",
                                                key=f"ba_pg_live_loss_{redraws}")
                            bar.progress(done / total, text=_("step {done}/{total} · loss {loss:.3f} · validation "
                                                              "{val:.3f}").format(done=done, total=total,
                                                                                  loss=h["loss"], val=h["val_loss"]))
                    bar.empty()
            model, history = sess["model"], sess["history"]
            title = _("Before training (random weights): press Train") if not history else _(
                "step {step} · training accuracy {tr:.0%} · validation accuracy {va:.0%}").format(
                step=history[-1]["step"], tr=history[-1]["train_acc"], va=history[-1]["val_acc"])
            fig = _boundary_figure(model, data, title)
            board.plotly_chart(fig, width="stretch", key="ba_pg_board")
            loss_fig = _pg_loss_figure(history)
            curves.plotly_chart(loss_fig, width="stretch", key="ba_pg_curves")
            figure_downloads(fig, "playground_boundary", "ba_pg_dl", data=pd.DataFrame(history) if history else None)
            point = playground.overfitting_point(history) if history else None
            if point is not None and point["overfits"]:
                st.info(_("Validation loss was lowest at step {step} ({val:.3f}) and has risen since while the "
                          "training loss kept falling: the network is fitting the noise of its training points. "
                          "Stopping there (early stopping), more L2, dropout, or a smaller network would help.").format(
                    step=point["step"], val=point["val_loss"]))

        st.subheader(_("Under- and over-fitting: polynomials of growing degree"))
        st.markdown(_(
            "Fit noisy samples of a smooth curve with polynomials of degree 0, 1, 2 …. A low degree can't follow "
            "the curve: training and validation errors are both high (**under-fitting**, 欠拟合). A high degree "
            "passes through every training point, noise included, and swings wildly between them: training "
            "error near 0, validation error high (**over-fitting**, 过拟合)."))
        p1, p2, p3 = st.columns(3)
        p1.slider(_("Degree"), 0, 15, key="ba_poly_degree")
        p2.slider(_("Samples"), 10, 200, step=5, key="ba_poly_n")
        p3.slider(_("Noise "), 0.0, 1.0, step=0.05, key="ba_poly_noise")
        with guard(stop=False):
            ss = st.session_state
            fit = playground.polynomial_fit(max_degree=15, n=int(ss["ba_poly_n"]), noise=float(ss["ba_poly_noise"]),
                                            seed=seed())
            degree = int(ss["ba_poly_degree"])
            q1, q2 = st.columns(2)
            pf = _line_figure(_("Degree {d}").format(d=degree), "x", "y")
            pf.add_scatter(x=fit["xs"], y=fit["true"], mode="lines", name=_("true curve"),
                           line=dict(color="#999", dash="dash"))
            pf.add_scatter(x=fit["xs"], y=fit["curves"][degree], mode="lines", name=_("fitted polynomial"),
                           line=dict(color="#1f77b4", width=3))
            pf.add_scatter(x=fit["x_train"], y=fit["y_train"], mode="markers", name=_("training points"),
                           marker=dict(color="#1f77b4"))
            pf.add_scatter(x=fit["x_val"], y=fit["y_val"], mode="markers", name=_("validation points"),
                           marker=dict(color="#d62728", symbol="x"))
            finite = np.concatenate([fit["y_train"], fit["y_val"], fit["true"]])
            pad = max(0.5, float(np.ptp(finite)) * 0.3)
            pf.update_yaxes(range=[float(finite.min()) - pad, float(finite.max()) + pad])
            q1.plotly_chart(pf, width="stretch", key="ba_poly_fit")
            ef = _line_figure(_("Error vs degree"), _("degree"), _("mean squared error (log)"), log_y=True)
            ef.add_scatter(x=fit["degrees"], y=np.maximum(fit["train_mse"], 1e-12), mode="lines+markers",
                           name=_("training"), line=dict(color="#1f77b4"))
            ef.add_scatter(x=fit["degrees"], y=np.maximum(fit["val_mse"], 1e-12), mode="lines+markers",
                           name=_("validation"), line=dict(color="#d62728"))
            ef.add_vline(x=fit["best_degree"], line=dict(color="#2ca02c", dash="dot"),
                         annotation_text=_("best on validation: {d}").format(d=fit["best_degree"]))
            ef.add_vline(x=degree, line=dict(color="#999", width=1))
            q2.plotly_chart(ef, width="stretch", key="ba_poly_err")
            figure_downloads(ef, "polynomial_fit", "ba_poly_dl", data=pd.DataFrame(
                {"degree": fit["degrees"], "train_mse": fit["train_mse"], "val_mse": fit["val_mse"]}))

# =============================================================================================
# Convolutions
# =============================================================================================
CNN_SESSION = "_ba_cnn"  # session_state: the CNN and the MLP trained in this session, with their histories


def _grid_figure(values: np.ndarray, title: str, boxes: list | None = None, height: int = 340,
                 text: bool = False, greys: str = "Greys") -> go.Figure:
    """An image as a heatmap (row 0 at the top); `boxes`: (row, col, colour) cells to outline."""
    fig = heatmap(values, [str(j) for j in range(values.shape[1])], [str(i) for i in range(values.shape[0])],
                  title=title, x_title="", y_title="", text_fmt=".1f" if text else None, height=height)
    fig.update_traces(colorscale=greys, showscale=False, selector=dict(type="heatmap"))
    for r, c, color in boxes or []:
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=dict(color=color, width=3))
    fig.update_layout(xaxis=dict(showticklabels=values.shape[1] <= 16, scaleanchor="y", constrain="domain"),
                      yaxis=dict(showticklabels=values.shape[0] <= 16))
    return fig


def _image() -> np.ndarray:
    ss = st.session_state
    if ss["ba_cv_source"] == "upload":
        upload = ss.get("ba_cv_upload")
        if upload is None:
            raise ValueError(_("Upload a picture (PNG or JPEG), or switch back to a digit."))
        return convolution.image_from_upload(upload.getvalue(), size=int(ss.get("ba_cv_size", 32)))
    images, labels = convolution.digit_images()
    return images[int(ss["ba_cv_digit"])]


def _kernel() -> np.ndarray:
    name = st.session_state["ba_cv_kernel"]
    if name == "custom":
        return convolution.parse_kernel(st.session_state["ba_cv_custom"])
    return convolution.KERNELS[name][1]


MAX_SLIDE_FRAMES = 120  # frames of the sliding-kernel animation (larger outputs skip positions)


@st.cache_resource(show_spinner=False, max_entries=32)
def _slide_cached(image: np.ndarray, kernel: np.ndarray, out: np.ndarray, p: int, s: int, d: int, greys: str,
                  lang: str) -> go.Figure:
    """The sliding-kernel animation, built once per view and language (read-only: st.plotly_chart copies it)."""
    return _slide_figure(image, kernel, out, p, s, d, greys)


def _slide_figure(image: np.ndarray, kernel: np.ndarray, out: np.ndarray, p: int, s: int, d: int,
                  greys: str = "Greys") -> go.Figure:
    """The kernel sliding over the padded input (left) while the output fills in (right), one frame per
    output position (at most MAX_SLIDE_FRAMES, evenly spaced), with ▶ / ⏸ and a slider."""
    padded = np.pad(image, p)  # (H + 2p, W + 2p)
    positions = [(i, j) for i in range(out.shape[0]) for j in range(out.shape[1])]
    shown = np.unique(np.linspace(0, len(positions) - 1, num=min(MAX_SLIDE_FRAMES, len(positions))).astype(int))
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=(
        _("input with padding ({h}×{w})").format(h=padded.shape[0], w=padded.shape[1]),
        _("output ({h}×{w})").format(h=out.shape[0], w=out.shape[1])))
    lo, hi = float(np.min(out)), float(np.max(out))
    fig.add_trace(go.Heatmap(z=padded, colorscale=greys, showscale=False, hovertemplate="%{z:.2f}<extra></extra>"),
                  row=1, col=1)
    size_in = int(np.clip(320 / max(padded.shape), 4, 14))  # marker sizes that fit the grids' cells
    size_out = int(np.clip(320 / max(out.shape), 4, 14))

    def frame_data(n: int) -> list:
        i, j = positions[n]
        win = convolution.window(image, kernel, i, j, padding=p, stride=s, dilation=d)
        done = np.full(out.shape, np.nan)  # the cells computed so far, row by row
        flat = done.reshape(-1)  # (H_out * W_out,) view
        flat[: n + 1] = out.reshape(-1)[: n + 1]
        return [go.Scatter(x=np.ravel(win["cols"]), y=np.ravel(win["rows"]), mode="markers", showlegend=False,
                           marker=dict(symbol="square-open", size=size_in, color="#d62728", line=dict(width=2)),
                           hoverinfo="skip"),
                go.Heatmap(z=done, colorscale="RdBu", zmid=0, zmin=min(lo, -1e-9), zmax=max(hi, 1e-9),
                           showscale=False, hovertemplate="%{z:.2f}<extra></extra>"),
                go.Scatter(x=[j], y=[i], mode="markers", showlegend=False, hoverinfo="skip",
                           marker=dict(symbol="square-open", size=size_out, color="#d62728", line=dict(width=2)))]

    first = frame_data(int(shown[0]))
    fig.add_trace(first[0], row=1, col=1)
    fig.add_trace(first[1], row=1, col=2)
    fig.add_trace(first[2], row=1, col=2)
    fig.frames = [go.Frame(data=frame_data(int(n)), traces=[1, 2, 3], name=str(n)) for n in shown]
    fig.update_yaxes(autorange="reversed", scaleanchor="x", row=1, col=1)
    fig.update_yaxes(autorange="reversed", scaleanchor="x2", row=1, col=2)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(
        height=440, margin=dict(l=10, r=10, t=40, b=10),
        **_play_controls([(str(n), f"{positions[n][0]},{positions[n][1]}") for n in shown], _("position "),
                         buttons_y=-0.04, slider_y=-0.02, duration=120, redraw=True))
    return fig


@st.cache_resource(show_spinner=False)
def _digits_split() -> dict:
    return cnn.digits_split()


def _acc_figure(sess: dict) -> go.Figure:
    fig = _line_figure(_("Held-out accuracy while training"), _("epoch"), _("accuracy"), height=340)
    for name, color in (("cnn", "#1f77b4"), ("mlp", "#ff7f0e")):
        hist = sess.get(f"history_{name}", [])
        if hist:
            fig.add_scatter(x=[h["epoch"] for h in hist], y=[h["test_acc"] for h in hist], mode="lines+markers",
                            name=_("CNN") if name == "cnn" else _("MLP"), line=dict(color=color))
    return fig


with tab_conv:
    if tab_conv.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "A convolution layer (卷积层) slides a small **kernel** over the image and, at each position, sums "
            "the products of the kernel and the pixels under it. **Padding** (填充) adds a border of zeros so the "
            "edges count too, **stride** (步幅) skips positions, **dilation** spreads the kernel's taps apart. "
            "**Pooling** (池化) then keeps the largest (or average) value of each small window: a smaller, "
            "slightly shift-proof map."))
        c1, c2, c3 = st.columns(3)
        c1.radio(_("Image"), ["digit", "upload"], key="ba_cv_source", horizontal=True,
                 format_func=lambda s: _("a digit (8×8)") if s == "digit" else _("upload a picture"))
        if st.session_state["ba_cv_source"] == "digit":
            c2.slider(_("Digit number"), 0, 1796, key="ba_cv_digit")
        else:
            c2.file_uploader(_("Picture (PNG/JPEG, ≤ 5 MB)"), type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                             key="ba_cv_upload")
            c3.select_slider(_("Resize to"), [16, 24, 32, 48, 64], value=32, key="ba_cv_size")
        k1, k2, k3, k4 = st.columns(4)
        k1.selectbox(_("Kernel"), [*convolution.KERNELS, "custom"], key="ba_cv_kernel",
                     format_func=lambda k: _(convolution.KERNELS[k][0]) if k in convolution.KERNELS else _("custom"))
        k2.slider(_("Padding p"), 0, 5, key="ba_cv_pad")
        k3.slider(_("Stride s"), 1, 5, key="ba_cv_stride")
        k4.slider(_("Dilation d"), 1, 4, key="ba_cv_dil")
        if st.session_state["ba_cv_kernel"] == "custom":
            st.text_input(_("Kernel rows, separated by ';' (up to 7×7)"), key="ba_cv_custom", max_chars=400)
        with guard(stop=False):
            ss = st.session_state
            image, kernel = _image(), _kernel()
            p, s, d = int(ss["ba_cv_pad"]), int(ss["ba_cv_stride"]), int(ss["ba_cv_dil"])
            n, k = image.shape[0], kernel.shape[0]
            out_h = convolution.output_size(image.shape[0], k, p, s, d)
            out_w = convolution.output_size(image.shape[1], k, p, s, d)
            out = convolution.convolve(image, kernel, padding=p, stride=s, dilation=d)
            st.latex(r"\left\lfloor \frac{n + 2p - d(k-1) - 1}{s} \right\rfloor + 1 = "
                     rf"\left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k}-1) - 1}}{{{s}}} \right\rfloor + 1 = {out_h}")
            same = tuple(out.shape) == (out_h, out_w)
            (st.success if same else st.error)(
                _("The formula gives {h}×{w}; torch's conv2d produced {a}×{b}.").format(
                    h=out_h, w=out_w, a=out.shape[0], b=out.shape[1]), icon="✅" if same else "❌")
            # digits: 1 is ink, drawn dark; pictures: 1 is white, drawn light
            greys = "Greys" if ss["ba_cv_source"] == "digit" else "Greys_r"
            st.plotly_chart(_slide_cached(image, kernel, out, p, s, d, greys, language()), width="stretch",
                            key="ba_cv_slide")
            st.caption(_("Press ▶: the red squares are the kernel's {taps} taps on the input; each output cell is "
                         "the sum of the kernel times the pixels under them (red: positive, blue: negative). Pick a "
                         "position below to see the products.").format(taps=k * k))
            r1, r2 = st.columns(2)
            ss["ba_cv_row"] = row = min(int(ss["ba_cv_row"]), out.shape[0] - 1)  # the output may have shrunk
            ss["ba_cv_col"] = col = min(int(ss["ba_cv_col"]), out.shape[1] - 1)
            r1.slider(_("Output row"), 0, max(out.shape[0] - 1, 1), key="ba_cv_row", disabled=out.shape[0] == 1)
            r2.slider(_("Output column"), 0, max(out.shape[1] - 1, 1), key="ba_cv_col", disabled=out.shape[1] == 1)
            win = convolution.window(image, kernel, row, col, padding=p, stride=s, dilation=d)
            padded = np.pad(image, p)
            taps = [(r, c, "#d62728") for r, c in zip(np.ravel(win["rows"]), np.ravel(win["cols"]))]
            g1, g2, g3 = st.columns([3, 2, 3])
            small = max(padded.shape) <= 16
            g1.plotly_chart(_grid_figure(padded, _("input with padding ({h}×{w})").format(
                h=padded.shape[0], w=padded.shape[1]), taps, text=small, greys=greys), width="stretch", key="ba_cv_in")
            g2.plotly_chart(_grid_figure(np.asarray(win["products"]), _("kernel × patch"), text=True, height=300),
                            width="stretch", key="ba_cv_prod")
            g2.markdown(_("Sum of the products = **{v:.3f}** = output[{r}, {c}]").format(v=win["value"], r=row, c=col))
            g3.plotly_chart(_grid_figure(out, _("output ({h}×{w})").format(h=out.shape[0], w=out.shape[1]),
                                         [(row, col, "#d62728")], text=max(out.shape) <= 16),
                            width="stretch", key="ba_cv_out")
            st.caption(_("Kernel:") + " " + "; ".join(" ".join(f"{v:g}" for v in r) for r in kernel))

            st.markdown("**" + _("Pooling the output") + "**")
            q1, q2, q3 = st.columns(3)
            q1.radio(_("Pooling"), ["max", "avg"], key="ba_cv_pool", horizontal=True,
                     format_func=lambda s: _("max pooling") if s == "max" else _("average pooling"))
            q2.slider(_("Window"), 1, 4, key="ba_cv_pool_size")
            q3.slider(_("Pooling stride"), 1, 4, key="ba_cv_pool_stride")
            pooled = convolution.pool(out, ss["ba_cv_pool"], int(ss["ba_cv_pool_size"]), int(ss["ba_cv_pool_stride"]))
            st.plotly_chart(_grid_figure(pooled, _("pooled ({h}×{w})").format(h=pooled.shape[0], w=pooled.shape[1]),
                                         text=max(pooled.shape) <= 16, height=300), width="content", key="ba_cv_pooled")

        st.subheader(_("LeNet on the digits"))
        st.markdown(_(
            "A LeNet-style network: convolution → ReLU → pooling, twice, then fully connected layers. It is "
            "trained here on 1,437 of the 1,797 digits and tested on the other 360, next to a multilayer "
            "perceptron with the same number of parameters that sees the 64 pixels as a flat list. The CNN also "
            "trains on copies of the digits shifted by a pixel (that helps it; it only hurts the MLP, which "
            "trains on the digits as they are)."))
        cnn_cfg = cnn.CNNConfig()
        mlp_cfg = cnn.mlp_config_matching(cnn_cfg)
        t1, t2 = st.columns([2, 1])
        t2.slider(_("Seconds for each network"), 2, CNN_SECONDS, key="ba_cnn_seconds")
        go_train = t1.button(_("🏋️ Train the CNN and the MLP"), key="ba_cnn_train", type="primary")
        with guard(stop=False):
            ss = st.session_state
            data = _digits_split()
            if go_train:
                sess = {"history_cnn": [], "history_mlp": [], "results": {}}
                ss[CNN_SESSION] = sess  # kept before training: Stop keeps what was trained so far
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="ba_cnn_stop")
                    for name in ("cnn", "mlp"):
                        model = cnn.build_cnn(cnn_cfg, seed()) if name == "cnn" else cnn.build_mlp(mlp_cfg, seed())
                        sess[name] = model
                        bar = st.progress(0.0, text=_("training the {net}…").format(net=name.upper()))

                        def on_step(done, total, info, bar=bar, name=name):
                            bar.progress(min(done / max(total, 1), 1.0), text=_(
                                "{net}: epoch {done}/{total}").format(net=name.upper(), done=done, total=total))

                        # each network trained its best way: shifted copies of the digits help the CNN, hurt the MLP
                        sess["results"][name] = cnn.train(model, data, seed=seed(),
                                                          max_seconds=float(ss["ba_cnn_seconds"]), on_step=on_step,
                                                          history=sess[f"history_{name}"], augment=name == "cnn")
                        bar.empty()
            sess = ss.get(CNN_SESSION)
            if sess is None or "cnn" not in sess:
                st.info(_("Press Train: both networks train for at most the seconds you set (the CNN takes about "
                          "5 s on two CPU cores, the MLP about 1 s). The CNN: {cnn:,} parameters; the MLP: "
                          "{mlp:,}.").format(
                    cnn=cnn.cnn_param_count(cnn_cfg), mlp=cnn.mlp_param_count(mlp_cfg)))
            else:
                res = sess["results"]
                m1, m2 = st.columns(2)
                for col, name in ((m1, "cnn"), (m2, "mlp")):
                    hist = sess.get(f"history_{name}", [])
                    if name in res:
                        r = res[name]
                        col.metric(_("{net}: held-out accuracy").format(net=name.upper()), f"{r['test_acc']:.1%}",
                                   help=_("{params:,} parameters · {epochs} epochs in {seconds:.1f} s").format(
                                       params=cnn.count_params(sess[name]), epochs=r["epochs"], seconds=r["seconds"]))
                    elif hist:  # stopped: what it reached after its last whole epoch
                        col.metric(_("{net}: held-out accuracy").format(net=name.upper()), f"{hist[-1]['test_acc']:.1%}",
                                   help=_("stopped after epoch {epoch}").format(epoch=hist[-1]["epoch"]))
                    else:
                        col.metric(_("{net}: held-out accuracy").format(net=name.upper()), "–",
                                   help=_("not trained: press Train"))
                fig = _acc_figure(sess)
                st.plotly_chart(fig, width="stretch", key="ba_cnn_acc")
                figure_downloads(fig, "cnn_vs_mlp", "ba_cnn_dl", data=pd.DataFrame(
                    [{"network": name, **h} for name in ("cnn", "mlp") for h in sess.get(f"history_{name}", [])]))
                images, labels = convolution.digit_images()
                digit = int(ss["ba_cv_digit"])
                maps = cnn.feature_maps(sess["cnn"], images[digit])
                probs = cnn.predict(sess["cnn"], images[digit:digit + 1])[0]
                st.markdown(_("**Feature maps** of digit number {i} (a {label}); the CNN reads it as **{pred}** "
                              "({p:.0%}). Change the digit above.").format(
                    i=digit, label=int(labels[digit]), pred=int(np.argmax(probs)), p=float(np.max(probs))))
                for layer in maps:
                    fm = np.asarray(layer["maps"])  # (C, H, W)
                    shown = min(fm.shape[0], 8)
                    fmfig = make_subplots(rows=1, cols=shown, horizontal_spacing=0.01)
                    for c in range(shown):
                        fmfig.add_trace(go.Heatmap(z=fm[c][::-1], colorscale="Viridis", showscale=False,
                                                   hovertemplate="%{z:.2f}<extra></extra>"), row=1, col=c + 1)
                    fmfig.update_xaxes(visible=False)
                    fmfig.update_yaxes(visible=False)
                    fmfig.update_layout(height=150, margin=dict(l=10, r=10, t=30, b=5),
                                        title=dict(text=_("{name}: {c} channels of {h}×{w} (first {n} shown)").format(
                                            name=layer["name"], c=fm.shape[0], h=fm.shape[1], w=fm.shape[2], n=shown),
                                            font=dict(size=13)))
                    st.plotly_chart(fmfig, width="stretch", key=f"ba_cnn_maps_{layer['name']}")

sync_url()
