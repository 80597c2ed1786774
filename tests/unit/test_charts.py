"""The report's SVG charts: round ticks, labelled axes, values, clipped infinities, escaped text."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from genai_cicd.logic import charts

NS = {"s": "http://www.w3.org/2000/svg"}


@pytest.mark.parametrize(("low", "high"), [(0, 1), (0, 0.013), (0.2, 7.5), (-1, 1), (0, 0), (5, 5), (0, 1234)])
def test_ticks_are_round_and_cover_the_range(low: float, high: float) -> None:
    ticks = charts.nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 12
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 5, 10)


def test_ticks_refuse_infinite_bounds() -> None:
    with pytest.raises(ValueError):
        charts.nice_ticks(0, math.inf)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_a_line_chart_has_axes_labels_values_regions_lines_and_the_decision_marker() -> None:
    svg = charts.line_chart(
        title="error rate <per interval>", x_label="canary interval", y_label="error rate", n=4,
        series=[charts.Series("canary", [0.01, 0.02, None, 0.3], "#c00"),
                charts.Series("baseline", [0.01] * 4, "#00c")],
        bands=[charts.Band("band", [0.5, 0.6, 0.7, 0.8], [2.0, math.inf, 1.5, 1.1], "#c00")],
        lines=[charts.RefLine("harm above", 1.2, "#c00")], regions=[charts.Region(1, 2, "5% canary"),
                                                                    charts.Region(3, 4, "25% canary")],
        markers=[charts.Marker(4, "roll back")])
    root = parse(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert root.find("s:title", NS).text == "error rate <per interval>"  # type: ignore[union-attr]
    assert "canary interval" in texts and "error rate" in texts
    assert {"5% canary", "25% canary", "roll back", "harm above 1.2", "0.3", "canary", "baseline"} <= set(texts)
    x_axis = root.find(".//s:g[@class='axis x-axis']", NS)
    assert x_axis is not None
    assert [t.text for t in x_axis.iter("{http://www.w3.org/2000/svg}text")] == ["1", "2", "3", "4"]
    assert "&lt;per interval&gt;" in svg


def test_values_beyond_the_window_are_clipped_to_its_edge_not_drawn_off_the_chart() -> None:
    svg = charts.line_chart(title="t", x_label="x", y_label="y", n=3,
                            series=[charts.Series("s", [0.5, math.inf, 40.0], "#000")], y_ceiling=2.0)
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', svg)]
    assert min(ys) >= 28 - 1e-9  # the plot's top edge
    labels = re.findall(r'<text class="value"[^>]*>([^<]+)</text>', svg)
    assert sorted(labels) == ["0.5", "40", "∞"]  # the true values are printed even where the point is clipped


def test_an_interval_chart_draws_each_metric_against_its_margin_and_threshold() -> None:
    rows = [charts.IntervalRow("rouge_l", 0.8, 0.7, -0.2, -0.02, 0.1, 0.6, "block"),
            charts.IntervalRow("assertions", 0.9, 0.91, -0.03, 0.05, 0.1, 0.0, "pass")]
    svg = charts.interval_chart("prompt_regression", rows)
    root = parse(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "margin: baseline - 0.1 = 0.7" in titles  # the line the bar must clear
    assert "threshold 0.6" in titles and not any(t and t.startswith("threshold 0") and t != "threshold 0.6"
                                                 for t in titles)  # no threshold line when it is 0
    assert "candidate mean, 0.6 to 0.78" in titles
    assert root.find(".//s:text[@class='x-label']", NS) is not None
    assert root.find(".//s:text[@class='y-label']", NS) is not None
