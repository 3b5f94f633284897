"""The store's KPIs for managers: the period's figures against the targets, with charts.

Reached from the queue with F10 (managers only). The period is today by the
hour, the last 7 or 30 days by the day, or the last year by the week (F2 steps
through them). Wide
terminals draw two charts (textual-plotext) with the [sla] targets as lines;
handhelds (40 columns) get a sparkline per chart instead. Figures come from
agent.kpis.report, the same numbers as `store-agent report`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from agent.kpis.report import bucket_start, report
from agent.store.connection import Store
from config.catalogue import msg
from ui.tui.screens.base import BaseScreen
from ui.tui.widgets.plain import Plain

if TYPE_CHECKING:
    from ui.tui.app import StoreAgentApp

# (catalogue key of the label, days back, bucket); days 0: the local day so far.
PERIODS = (("kpi.today", 0, "hour"), ("kpi.week", 7, "day"), ("kpi.month", 30, "day"),
           ("kpi.year", 364, "week"))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _min(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


class KpiScreen(BaseScreen):
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("f2", "period", "Period"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, period: int = 0) -> None:
        super().__init__(classes="kpis")
        self.period = period
        self.data: dict[str, Any] = {}
        self.drawn = 0
        """How many times the figures were drawn: tests and the benchmark wait for it."""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="kpi-body"):
            yield Plain("", id="kpi-title")
            yield Plain("", id="kpi-figures")
            with Horizontal(id="kpi-charts"):
                yield PlotextPlot(id="kpi-fulfillment")
                yield PlotextPlot(id="kpi-rates")
            with Vertical(id="kpi-sparks"):
                yield Plain("", id="kpi-spark-ft-label", classes="kpi-spark-label")
                yield Sparkline([], id="kpi-spark-ft")
                yield Plain("", id="kpi-spark-rate-label", classes="kpi-spark-label")
                yield Sparkline([], id="kpi-spark-rate")

    @property
    def _app(self) -> StoreAgentApp:
        return cast("StoreAgentApp", self.app)

    def on_mount(self) -> None:
        super().on_mount()
        self.refresh_data()

    def refresh_data(self) -> None:
        """Count in a thread: a year is half a million rows, and the screen must not freeze."""
        _, days, bucket = PERIODS[self.period]
        app = self._app
        now = app.clock()
        start = bucket_start(now, "day") - timedelta(days=max(days - 1, 0))
        if not self.data:
            self.query_one("#kpi-title", Plain).update(msg("kpi.counting"))
        self._count(self.period, start, now, bucket)

    @work(thread=True, exclusive=True, group="kpis")
    def _count(self, period: int, start: datetime, now: datetime, bucket: str) -> None:
        app = self._app
        # A connection of its own: the app's is used by the UI thread meanwhile.
        with Store(app.store.path, migrate=False) as store:
            data = report(store, start, now, app.settings.sla, by=bucket)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._counted, period, data)

    def _counted(self, period: int, data: dict[str, Any]) -> None:
        if period != self.period or not self.is_attached:
            return  # F2 moved on meanwhile: the newer count will draw
        self.data = data
        self._draw()
        self.drawn += 1

    def _draw(self) -> None:
        r, sla = self.data, self._app.settings.sla
        label = msg(PERIODS[self.period][0])
        self.query_one("#kpi-title", Plain).update(msg("kpi.title", period=label))
        ft = r["fulfillment_time_s"]
        lines = [
            msg("kpi.orders", released=r["orders_released"], ready=r["orders_ready"],
                picked_up=r["orders_picked_up"]),
            msg("kpi.fulfillment", avg=_min(ft["avg"]), p90=_min(ft["p90"]),
                target=f"{sla.ready_within_min} min"),
            msg("kpi.on_time", rate=_pct(r["on_time_ready_rate"]), target=f"{sla.on_time_target_pct:g} %"),
            msg("kpi.conversion", rate=_pct(r["pickup_conversion"]),
                target=f"{sla.pickup_conversion_target_pct:g} %", no_shows=_pct(r["no_show_rate"])),
            msg("kpi.curbside", avg=_min(r["curb_wait_s"]["avg"]), p90=_min(r["curb_wait_s"]["p90"])),
            msg("kpi.shelf", short=_pct(r["short_pick_rate"]), avg=_min(r["cancel_to_shelf_s"]["avg"])),
        ]
        self.query_one("#kpi-figures", Plain).update("\n".join(lines))
        buckets = r.get("buckets", [])
        # None where a bucket has nothing to count: no point is drawn there (not a false 0).
        ft_series = [None if b["fulfillment_time_s"]["avg"] is None else b["fulfillment_time_s"]["avg"] / 60
                     for b in buckets]
        on_time = [None if b["on_time_ready_rate"] is None else 100 * b["on_time_ready_rate"]
                   for b in buckets]
        conversion = [None if b["pickup_conversion"] is None else 100 * b["pickup_conversion"]
                      for b in buckets]
        ticks = [b["from"] for b in buckets]
        self._chart("#kpi-fulfillment", msg("kpi.chart_fulfillment"), ticks,
                    [(ft_series, msg("kpi.legend_avg"))], float(sla.ready_within_min), bars=True)
        self._chart("#kpi-rates", msg("kpi.chart_rates"), ticks,
                    [(on_time, msg("kpi.legend_on_time")), (conversion, msg("kpi.legend_conversion"))],
                    sla.on_time_target_pct)
        self.query_one("#kpi-spark-ft-label", Plain).update(
            msg("kpi.spark_fulfillment", target=f"{sla.ready_within_min} min"))
        self.query_one("#kpi-spark-ft", Sparkline).data = [v or 0.0 for v in ft_series] or [0.0]
        self.query_one("#kpi-spark-rate-label", Plain).update(
            msg("kpi.spark_on_time", target=f"{sla.on_time_target_pct:g} %"))
        self.query_one("#kpi-spark-rate", Sparkline).data = [v or 0.0 for v in on_time] or [0.0]

    def _chart(self, selector: str, title: str, ticks: list[str],
               series: list[tuple[list[float | None], str]], target: float, *,
               bars: bool = False) -> None:
        plot = self.query_one(selector, PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        xs = [float(i) for i in range(1, len(ticks) + 1)]
        hourly = PERIODS[self.period][2] == "hour"
        labels = [self._tick(t, hourly) for t in ticks]
        if xs:
            plt.xlim(0.5, len(xs) + 0.5)  # the whole period, even where nothing happened
            for values, name in series:
                points = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
                if points and bars:
                    plt.bar([x for x, _ in points], [v for _, v in points], label=name, width=0.6)
                elif points:
                    plt.plot([x for x, _ in points], [v for _, v in points], label=name, marker="hd")
            step = max(1, len(xs) // 6)
            plt.xticks(xs[::step], labels[::step])  # after plotting: a bar chart sets its own
        # The target as a line across the chart: what the figures are judged against.
        plt.hline(target, "red")
        top = max([target, *(v for values, _ in series for v in values if v is not None)])
        plt.ylim(0, top * 1.15 or 1)
        plot.refresh()

    @staticmethod
    def _tick(stamp: str, hourly: bool) -> str:
        from agent.clock import parse_iso

        local = parse_iso(stamp).astimezone()
        return f"{local.hour:02d}h" if hourly else f"{local.day:02d}/{local.month:02d}"

    def action_period(self) -> None:
        self.period = (self.period + 1) % len(PERIODS)
        self.query_one("#kpi-title", Plain).update(msg("kpi.counting"))
        self.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
