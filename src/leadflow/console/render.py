"""Templates (autoescaped Jinja2), flash messages, pagination links and the SVG charts."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from leadflow.console import charts
from leadflow.console.web import Viewer
from leadflow.db.reports import DayRow
from leadflow.domain.schedule import DAYS
from leadflow.services.pages import KeysetPage, Page

HERE = Path(__file__).parent
FLASH_COOKIE = "lf_flash"

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def cents(value: int | None) -> str:
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def schedule_text(value: Mapping[str, Any] | None) -> str:
    """A stored schedule's hours the way ``forms.schedule`` reads them, Monday first (a JSON
    object's keys come back in no weekday order)."""
    if not value:
        return ""
    hours = value.get("hours", {})
    return "; ".join(
        f"{day} " + " ".join(f"{start}-{end}" for start, end in hours[day])
        for day in DAYS
        if day in hours
    )


def price_overrides_text(value: Iterable[Mapping[str, Any]]) -> str:
    """Stored price overrides the way ``forms.price_overrides`` reads them."""
    return ", ".join(
        f"{o['postal_prefix']}={o['price_cents'] // 100}.{o['price_cents'] % 100:02d}"
        for o in value
    )


env.filters["cents"] = cents
env.filters["when"] = when
env.filters["label"] = lambda value: str(value).replace("_", " ")
env.filters["choices"] = lambda values: [(v, str(v).replace("_", " ")) for v in values]
env.filters["hours"] = schedule_text
env.filters["overrides"] = price_overrides_text
env.filters["pairs"] = lambda items, key, label: [
    (getattr(i, key), getattr(i, label)) for i in items
]


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = _read_flash(request)
    body = env.get_template(template).render(
        request=request, viewer=viewer, flash=flash, path=request.url.path, **context
    )
    response = HTMLResponse(body, status_code=status_code)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, flash: str | None = None, error: bool = False) -> RedirectResponse:
    """303 to ``url`` (a local path), with a message shown once on the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        value = urllib.parse.quote(("error|" if error else "ok|") + flash[:300])
        response.set_cookie(FLASH_COOKIE, value, path="/", httponly=True, samesite="lax")
    return response


def _read_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = urllib.parse.unquote(raw).partition("|")
    return ("error" if kind == "error" else "ok"), text


def pager(request: Request, page: Page[Any]) -> dict[str, Any]:
    """Links to the previous and next pages, keeping the other query parameters."""
    pages = max(1, -(-page.total // page.limit))

    def link(number: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "page" and v}
        params["page"] = str(number)
        return f"{request.url.path}?{urllib.parse.urlencode(params)}"

    return {
        "page": page.page,
        "pages": pages,
        "total": page.total,
        "prev": link(page.page - 1) if page.page > 1 else None,
        "next": link(page.page + 1) if page.page < pages else None,
    }


def keyset_pager(request: Request, page: KeysetPage[Any, Any]) -> dict[str, Any]:
    """Links to the newer and the older page (by cursor), keeping the other query parameters,
    empty ones too (an empty filter may mean "any" where the default is not)."""

    def link(cursor: str) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        params["cursor"] = cursor
        return f"{request.url.path}?{urllib.parse.urlencode(params)}"

    return {
        "total": page.total,
        "shown": len(page.items),
        "prev": None if page.newer is None else link(page.newer.encode()),
        "next": None if page.older is None else link(page.older.encode()),
    }


def local_path(value: str | None, default: str) -> str:
    """A redirect target from a form or query: only a path of this site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


# --- charts: plain SVG, drawn on the server ---

CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 180, 56, 24, 12


def bar_chart(days: Sequence[DayRow], value: str, *, title: str, money: bool = False) -> Markup:
    """One bar per day of ``value`` (a ``DayRow`` field), with a max label and date ticks."""
    values = [int(getattr(d, value)) for d in days]
    top = max([*values, 1])
    inner_w, inner_h = CHART_W - PAD_L - 8, CHART_H - PAD_B - PAD_T
    step = inner_w / max(len(values), 1)
    bar_w = max(step * 0.7, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_L}" y1="{PAD_T + inner_h}" x2="{CHART_W - 8}" y2="{PAD_T + inner_h}" '
        'class="axis"/>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + 10}" text-anchor="end" class="tick">'
        f"{escape(cents(top) if money else str(top))}</text>",
        f'<text x="{PAD_L - 6}" y="{PAD_T + inner_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (day, v) in enumerate(zip(days, values, strict=True)):
        h = inner_h * v / top
        x = PAD_L + i * step + (step - bar_w) / 2
        label = f"{day.day.isoformat()}: {cents(v) if money else v}"
        parts.append(
            f'<rect x="{x:.1f}" y="{PAD_T + inner_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" class="bar"><title>{escape(label)}</title></rect>'
        )
        if (len(values) - 1 - i) % 7 == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{CHART_H - 6}" text-anchor="middle" '
                f'class="tick">{escape(day.day.strftime("%m-%d"))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


env.globals["bar_chart"] = bar_chart
env.globals["fairness_chart"] = charts.fairness_chart


def form_value(form: Mapping[str, str], name: str, default: str = "") -> str:
    return form.get(name, default)
