"""Charts drawn on the server as SVG: no chart library to ship, nothing to run in the browser, and the numbers
are in the page for screen readers (each bar has a title, and a table follows the chart)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, GUTTER = 640, 220, 36  # the viewBox; the SVG scales to its container


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    top: int  # the value at the top of the scale
    width: int = WIDTH
    height: int = HEIGHT
    gutter: int = GUTTER

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def _nice_top(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`: a round top for the scale."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def bar_chart(points: list[tuple[str, int]]) -> BarChart:
    """Bars for (label, value) pairs; negative values (a period of refunds) are drawn as zero."""
    top = _nice_top(max([value for _, value in points] + [1]))
    plot = HEIGHT - GUTTER
    slot = WIDTH / max(len(points), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        height = plot * max(value, 0) / top
        bars.append(Bar(label, value, x=index * slot + slot * 0.15, y=plot - height, width=slot * 0.7,
                        height=height))
    return BarChart(bars=bars, top=top)


@dataclass(frozen=True)
class SeriesBar:
    series: int  # index into the chart's series names (its colour class: series-0, series-1, …)
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Group:
    label: str
    bars: list[SeriesBar]
    center: float


@dataclass(frozen=True)
class GroupedBarChart:
    """Several counts per period side by side (a campaign's opens and clicks per hour or day)."""

    series: list[str]
    groups: list[Group]
    top: int
    width: int = WIDTH
    height: int = HEIGHT
    gutter: int = GUTTER

    @property
    def empty(self) -> bool:
        return not any(bar.value for group in self.groups for bar in group.bars)


def grouped_bar_chart(series: list[str], points: list[tuple[str, list[int]]]) -> GroupedBarChart:
    """Bars for (label, [a value per series]) pairs, on one scale from zero."""
    top = _nice_top(max([value for _, values in points for value in values] + [1]))
    plot = HEIGHT - GUTTER
    slot = WIDTH / max(len(points), 1)
    width = slot * 0.8 / max(len(series), 1)
    groups = []
    for index, (label, values) in enumerate(points):
        left = index * slot + slot * 0.1
        bars = [SeriesBar(n, value, x=left + n * width, y=plot - plot * max(value, 0) / top, width=width,
                          height=plot * max(value, 0) / top) for n, value in enumerate(values)]
        groups.append(Group(label, bars, center=index * slot + slot / 2))
    return GroupedBarChart(series=series, groups=groups, top=top)
