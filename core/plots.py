"""Plot builders shared by several pages (plotly figures; pages only render them)."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from core.i18n import _


def label(text) -> str:
    """A token as plotly should show it: plotly reads labels and texts as HTML, where <s> starts a
    strike-through that swallows the rest of the axis."""
    return html.escape(str(text), quote=False)


def dedupe_labels(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels; make repeated tokens unique with invisible suffixes."""
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0)
        seen[lab] = n + 1
        out.append(lab + "\u200b" * n)
    return out


def heatmap(weights, x_labels: list[str], y_labels: list[str], title: str = "",
            x_title: str = "", y_title: str = "", colorscale: str = "Blues", zmin=None, zmax=None,
            text_fmt: str | None = ".2f", height: int | None = None) -> go.Figure:
    """A labelled heatmap of a 2-D array (rows = y_labels, columns = x_labels), hover shows values."""
    z = np.asarray(weights, dtype=float)
    if z.ndim != 2 or z.shape != (len(y_labels), len(x_labels)):
        raise ValueError(_("heatmap: weights of shape {shape} don't match {rows}×{cols} labels.").format(
            shape=z.shape, rows=len(y_labels), cols=len(x_labels)))
    # labels are shown as HTML by plotly: a token such as <s> would open a strike-through and swallow the axis
    xs, ys = dedupe_labels([label(x) for x in x_labels]), dedupe_labels([label(y) for y in y_labels])
    show_text = text_fmt is not None and z.size <= 400
    row_title, col_title, value_title = y_title or _("row"), x_title or _("column"), _("value")
    # one layout dict at construction: ~4x faster than update_layout(xaxis_title=...) keyword paths
    return go.Figure(data=[go.Heatmap(
        z=z, x=xs, y=ys, colorscale=colorscale, zmin=zmin, zmax=zmax,
        text=np.vectorize(lambda v: format(v, text_fmt))(z) if show_text else None,
        texttemplate="%{text}" if show_text else None,
        hovertemplate=f"{row_title}: %{{y}}<br>{col_title}: %{{x}}<br>{value_title}: %{{z:.4f}}<extra></extra>",
    )], layout=dict(
        # the title starts below the plot toolbar (top right, ~30 px), so on a phone-width screen the
        # toolbar never covers it
        title=dict(text=title, x=0, xanchor="left", y=1, yref="container", yanchor="top", pad=dict(t=32)),
        margin=dict(l=10, r=10, t=70 if title else 36, b=10),
        # category axes: labels such as "3" or "2026" are names here, not numbers to place on a scale
        xaxis=dict(title=dict(text=x_title), side="bottom", tickangle=-45 if len(xs) > 8 else 0, type="category"),
        yaxis=dict(title=dict(text=y_title), autorange="reversed", type="category"),
        height=height or max(260, 28 * len(ys) + 120)))


def attention_heatmap(weights, queries: list[str], keys: list[str], title: str | None = None,
                      query_title: str | None = None, key_title: str | None = None) -> go.Figure:
    """Attention weights: one row per query token, one column per key token, each row sums to 1.

    Titles left out (None) read "Attention weights", "query (attending)" and "key (attended to)",
    in the visitor's language.
    """
    title = _("Attention weights") if title is None else title
    query_title = _("query (attending)") if query_title is None else query_title
    key_title = _("key (attended to)") if key_title is None else key_title
    return heatmap(weights, keys, queries, title=title, x_title=key_title, y_title=query_title,
                   zmin=0.0, zmax=float(np.max(weights)) if np.size(weights) else 1.0)


def layer_histograms(samples: list, layers: list, title: str, value_title: str, log_magnitude: bool = False,
                     bins: int = 48, height: int = 380) -> go.Figure:
    """One histogram per layer, side by side as the columns of a heatmap (colour: share of the layer's
    values in each bin), so a spread that collapses, saturates or piles up at 0 shows at a glance.

    `log_magnitude`: histogram log10|v| instead of v (gradients that shrink by orders of magnitude
    from layer to layer stay visible; exact zeros are counted in the lowest bin)."""
    values = [np.asarray(s, dtype=float).ravel() for s in samples]
    values = [v[np.isfinite(v)] for v in values]
    if log_magnitude:
        values = [np.log10(np.maximum(np.abs(v), 1e-30)) for v in values]
    pooled = np.concatenate(values) if values and any(v.size for v in values) else np.zeros(1)
    lo, hi = np.percentile(pooled, [0.5, 99.5])
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    z = np.zeros((bins, len(values)))  # (bins, layers)
    for j, v in enumerate(values):
        counts, _edges = np.histogram(np.clip(v, lo, hi), bins=edges)
        z[:, j] = counts / max(counts.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Heatmap(x=[str(layer) for layer in layers], y=centres, z=z, colorscale="Viridis",
                               zmin=0, zmax=float(min(z.max(), 0.5)) or 1.0,
                               colorbar=dict(title=dict(text=_("share"))),
                               hovertemplate=_("layer") + " %{x}<br>" + value_title + " %{y:.3g}<br>"
                               + _("share") + " %{z:.1%}<extra></extra>"))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(title=_("layer"), type="category"), yaxis=dict(title=value_title))
    return fig
