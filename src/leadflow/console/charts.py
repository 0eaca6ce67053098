"""The fairness chart: plain SVG drawn on the server (no script), one row per subscription."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from leadflow.services.fairness import SubscriptionShare

WIDTH, LABEL_W, VALUE_W, ROW_H, PAD_T, PAD_B = 420, 120, 78, 26, 8, 22
MAX_LABEL = 16


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def fairness_chart(shares: Sequence[SubscriptionShare], *, title: str) -> Markup:
    """A bar per subscription of its sales, with a mark at its fair share."""
    top = max([1.0, *(s.share.sales for s in shares), *(s.share.fair_share for s in shares)])
    inner_w = WIDTH - LABEL_W - VALUE_W
    height = PAD_T + ROW_H * max(len(shares), 1) + PAD_B
    axis_y = height - PAD_B
    parts = [
        f'<svg class="chart fairness" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LABEL_W}" y1="{PAD_T}" x2="{LABEL_W}" y2="{axis_y}" class="axis"/>',
        f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + inner_w}" y2="{axis_y}" class="axis"/>',
        f'<text x="{LABEL_W}" y="{height - 6}" text-anchor="middle" class="tick">0</text>',
        f'<text x="{LABEL_W + inner_w}" y="{height - 6}" text-anchor="middle" class="tick">'
        f"{top:g}</text>",
    ]
    for i, item in enumerate(shares):
        share = item.share
        y = PAD_T + i * ROW_H
        w = inner_w * share.sales / top
        fair_x = LABEL_W + inner_w * share.fair_share / top
        name = item.subscription.provider_name
        tip = f"{name}: {share.sales} sales, fair share {share.fair_share:.1f}"
        parts += [
            f'<text x="{LABEL_W - 6}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end" '
            f'class="name">{escape(_label(name))}</text>',
            f'<rect x="{LABEL_W}" y="{y + 5}" width="{w:.1f}" height="{ROW_H - 10}" '
            f'class="bar"><title>{escape(tip)}</title></rect>',
            f'<line x1="{fair_x:.1f}" y1="{y + 2}" x2="{fair_x:.1f}" y2="{y + ROW_H - 2}" '
            'class="fair"/>',
            f'<text x="{LABEL_W + inner_w + 6}" y="{y + ROW_H / 2 + 4:.1f}" class="value">'
            f"{share.sales} / {share.fair_share:.1f}</text>",
        ]
    if not shares:
        parts.append(
            f'<text x="{LABEL_W + 8}" y="{PAD_T + ROW_H / 2 + 4}" class="tick">'
            "no subscription could sell in this window</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
