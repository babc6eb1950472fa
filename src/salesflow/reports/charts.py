"""Charts as inline SVG, drawn on the server: no script, no CDN, readable offline.

Each function lays a chart out -- coordinates, ticks, labels -- and returns plain data that
``salesflow/reports/_line_chart.html`` or ``_bar_chart.html`` turns into ``<svg>``
elements (the template escapes every label). The numbers behind each chart are shown in a
table next to it on the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# Distinct on white and for the common colour blindnesses (Okabe & Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
# the width of one character of an axis label (11 px Roboto), a little generous: the
# y axis makes room for its longest label (amounts in millions were cut off); categories
# too long for their place under the bars (the stages' names, in Russian above all) are
# slanted, and the chart grows downwards to hold them
CHAR = 6.5
SLANT = 30  # degrees
SLANTED_CHARS = 22  # the longest slanted label; a longer one ends with an ellipsis


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the last day of a line chart ends at the edge
    rotate: int = 0  # degrees, counter-clockwise: a slanted category


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    segments: list[str]  # "x,y x,y ..." for each unbroken run of days with a value
    dots: list[tuple[float, float, int]]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, label)
    empty: bool = False


def _nice_top(value: float) -> int:
    """A round upper bound of the y axis (1, 2, 5 x 10^n) at or above ``value``."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return int(step * power) if step * power >= 1 else 1
    return int(10 * power)


def _y_ticks(top: int) -> list[Tick]:
    span = HEIGHT - BOTTOM - TOP
    steps = next(n for n in (5, 4, 2, 1) if top % n == 0)  # whole numbers on the axis
    return [
        Tick(position=HEIGHT - BOTTOM - span * n / steps, label=str(round(top * n / steps)))
        for n in range(steps + 1)
    ]


def _left(y_ticks: Sequence[Tick]) -> int:
    """The plot's left edge: room for the longest y label."""
    return max(LEFT, 12 + math.ceil(CHAR * max((len(t.label) for t in y_ticks), default=0)))


def _fit(label: str, most: int) -> str:
    """``label`` shortened to ``most`` characters, with an ellipsis."""
    most = max(4, most)
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def _category_ticks(categories: Sequence[str], left: int, group: float) -> tuple[list[Tick], int]:
    """The x axis of a bar chart and the chart's height: straight labels when each fits
    under its bars, otherwise all slanted, ending under their bars."""
    centres = [round(left + (n + 0.5) * group, 1) for n in range(len(categories))]
    if max((len(c) for c in categories), default=0) * CHAR <= group:
        return [Tick(x, c) for x, c in zip(centres, categories, strict=True)], HEIGHT
    cos, sin = math.cos(math.radians(SLANT)), math.sin(math.radians(SLANT))
    ticks = [
        # no longer than the room to the chart's left edge
        Tick(x, _fit(c, min(SLANTED_CHARS, int((x - 2) / (CHAR * cos)))), "end", -SLANT)
        for x, c in zip(centres, categories, strict=True)
    ]
    longest = max(len(t.label) for t in ticks) * CHAR
    return ticks, HEIGHT + math.ceil(longest * sin)


def line_chart(
    title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[int | None]]]
) -> Chart:
    """One line per series over ``x_labels`` (days); a missing value breaks the line."""
    values = [v for _, points in series for v in points if v is not None]
    if not values:
        return Chart(title=title, empty=True)
    top = _nice_top(max(values))
    y_ticks = _y_ticks(top)
    left = _left(y_ticks)
    span_x = WIDTH - left - RIGHT
    span_y = HEIGHT - BOTTOM - TOP
    step = span_x / max(1, len(x_labels) - 1)

    def x(n: int) -> float:
        return round(left + n * step, 1)

    def y(v: int) -> float:
        return round(HEIGHT - BOTTOM - span_y * v / top, 1)

    lines = []
    for number, (label, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        segments: list[str] = []
        run: list[str] = []
        dots: list[tuple[float, float, int]] = []
        for n, value in enumerate(points):
            if value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            run.append(f"{x(n)},{y(value)}")
            dots.append((x(n), y(value), value))
        if run:
            segments.append(" ".join(run))
        lines.append(Line(label=label, colour=colour, segments=segments, dots=dots))
    every = max(1, math.ceil(len(x_labels) / 8))
    last = len(x_labels) - 1
    return Chart(
        title=title,
        plot_left=left,
        y_ticks=y_ticks,
        x_ticks=[
            Tick(x(n), label, "end" if n == last and n > 0 else "middle")
            for n, label in enumerate(x_labels)
            if n % every == 0
        ],
        lines=lines,
        legend=[(line.colour, line.label) for line in lines],
    )


def bar_chart(
    title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]
) -> Chart:
    """Grouped bars: one group per category, one bar per series."""
    values = [v for _, points in series for v in points]
    if not values or not any(values):
        return Chart(title=title, empty=True)
    top = _nice_top(max(values))
    y_ticks = _y_ticks(top)
    left = _left(y_ticks)
    span_x = WIDTH - left - RIGHT
    span_y = HEIGHT - BOTTOM - TOP
    group = span_x / max(1, len(categories))
    width = group * 0.8 / max(1, len(series))
    bars = []
    for number, (label, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        for n, value in enumerate(points):
            height = span_y * value / top
            bars.append(
                Bar(
                    x=round(left + n * group + group * 0.1 + number * width, 1),
                    y=round(HEIGHT - BOTTOM - height, 1),
                    width=round(width, 1),
                    height=round(height, 1),
                    colour=colour,
                    title=f"{categories[n]} · {label}: {value}",
                )
            )
    x_ticks, height = _category_ticks(categories, left, group)
    return Chart(
        title=title,
        height=height,
        plot_left=left,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        bars=bars,
        legend=[(PALETTE[n % len(PALETTE)], label) for n, (label, _) in enumerate(series)],
    )
