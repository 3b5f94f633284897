"""WCAG 2.x contrast, computed from the colours the app actually resolves: every text pair of
the theme and of the cells and pills that carry their own colours is at least 4.5:1."""

from __future__ import annotations

import asyncio

import pytest
from rich.style import Style
from textual.color import Color

from tests.ui.conftest import login, order, scan, seed
from ui.tui.app import StoreAgentApp
from ui.tui.screens.queue import ARRIVED_STYLE, TIMER_STYLE
from ui.tui.widgets.status_bar import OFFLINE_STYLE, ONLINE_STYLE

AA = 4.5


def luminance(c: Color) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


def contrast(a: Color, b: Color) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_formula_matches_known_values():
    assert round(contrast(Color.parse("#ffffff"), Color.parse("#000000")), 1) == 21.0
    assert round(contrast(Color.parse("#ffffff"), Color.parse("#ff0000")), 2) == 4.0  # why not pure red
    assert contrast(Color.parse("#777777"), Color.parse("#ffffff")) < AA


def _rich_pair(style: str) -> tuple[Color, Color]:
    parsed = Style.parse(style)
    return Color.from_rich_color(parsed.color), Color.from_rich_color(parsed.bgcolor)


@pytest.mark.parametrize("style", [TIMER_STYLE["late"], TIMER_STYLE["nearing"], ARRIVED_STYLE,
                                   ONLINE_STYLE, OFFLINE_STYLE])
def test_cells_and_pills_with_their_own_colours(style):
    fg, bg = _rich_pair(style)
    assert contrast(fg, bg) >= AA, f"{style}: {contrast(fg, bg):.2f}:1"


def _over(color: Color, under: Color) -> Color:
    return color if color.a >= 1 else under.blend(color, color.a)


def test_the_themes_text_pairs_as_resolved_on_screen(env):
    seed(env.settings, order("W10010", fulfillment="curbside",
                             arrival={"arrived_at": "2026-11-23T14:00:00Z", "bay": "3", "vehicle": "van"}))

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            variables = app.get_css_variables()
            base = Color.parse(variables["background"])
            pairs = {
                f"foreground on {name}": (Color.parse(variables["foreground"]),
                                          _over(Color.parse(variables[name]), base))
                for name in ("background", "surface", "panel")
            }
            for name in ("footer-key-foreground", "footer-description-foreground"):
                pairs[name] = (Color.parse(variables[name]), Color.parse(variables["footer-background"]))
            await scan(pilot, "%%%")  # an error line
            for selector in ("#message", "#banner", "#status", "#sections Button.-urgent"):
                for widget in app.screen.query(selector):
                    bg = _over(widget.styles.background, base)
                    pairs[selector] = (_over(widget.styles.color, bg), bg)
            low = {what: round(contrast(fg, bg), 2) for what, (fg, bg) in pairs.items()
                   if contrast(fg, bg) < AA}
            assert not low, f"below {AA}:1: {low}"
            assert {"#message", "#banner", "#status", "#sections Button.-urgent"} <= set(pairs)

    asyncio.run(main())
