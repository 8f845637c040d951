"""`casebook report`: portfolio statistics as readable tables and as a PNG chart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casebook_case.projections.stats import PortfolioStats

STAGES = ("EARLY", "MID", "LATE", "AGENCY", "LEGAL", "CLOSED")


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], names: bool = True
) -> list[str]:
    cells = [[str(c) for c in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        # The first column (names) lines up on the left, the figures on the right.
        line = "  ".join(
            cell.ljust(widths[i]) if i == 0 and names else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        )
        lines.append(line.rstrip())
    return lines


def render_text(stats: PortfolioStats) -> str:
    lines = [
        f"Portfolio from {_time(stats.start)} to {_time(stats.end)} "
        f"(events up to log position {stats.position})",
        "",
        f"Cases by stage, now ({_time(stats.at)})",
        *_table(("STAGE", "CASES"), [(s, stats.cases_per_stage.get(s, 0)) for s in STAGES]),
        "",
        "Promises due in the period",
    ]
    p = stats.promises
    lines += _table(
        ("FELL DUE", "KEPT", "BROKEN", "OPEN", "WITHDRAWN", "KEPT RATE", "BROKEN RATE"),
        [
            (
                p.fell_due,
                p.kept,
                p.broken,
                p.open,
                p.withdrawn,
                _percent(p.kept_rate),
                _percent(p.broken_rate),
            )
        ],
        names=False,
    )
    lines += ["", "Amounts (minor units: fen, cents, ...; never added across currencies)"]
    if stats.amounts:
        lines += _table(
            ("CURRENCY", "PROMISES", "PROMISED", "PAYMENTS", "COLLECTED"),
            [
                (
                    a.currency,
                    a.promises_recorded,
                    f"{a.promised_minor:,}",
                    a.payments_received,
                    f"{a.collected_minor:,}",
                )
                for a in stats.amounts
            ],
        )
    else:
        lines.append("(no promise recorded and no payment received in the period)")
    lines += ["", "Contacts"]
    if stats.contacts:
        lines += _table(
            ("CHANNEL", "ATTEMPTS", "RIGHT PARTY", "RATE", "INBOUND"),
            [
                (
                    c.channel,
                    c.attempts,
                    c.right_party_contacts,
                    _percent(c.right_party_rate),
                    c.inbound,
                )
                for c in stats.contacts
            ],
        )
    else:
        lines.append("(no contact in the period)")
    return "\n".join(lines) + "\n"


def write_chart(stats: PortfolioStats, path: Path) -> None:
    """Four panels: cases by stage, promise outcomes, amounts per currency, contacts per
    channel. Drawn on an Agg canvas (no display, no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(12, 8), dpi=100)
    FigureCanvasAgg(figure)
    figure.suptitle(f"Portfolio from {_time(stats.start)} to {_time(stats.end)}")
    axes = figure.subplots(2, 2)

    stages = axes[0][0]
    bars = stages.bar(STAGES, [stats.cases_per_stage.get(s, 0) for s in STAGES], color=BLUE)
    stages.bar_label(bars)
    stages.set_title(f"Cases by stage at {_time(stats.at)}")
    stages.set_ylabel("cases")

    outcomes = axes[0][1]
    p = stats.promises
    bars = outcomes.bar(
        ["kept", "broken", "open", "withdrawn"],
        [p.kept, p.broken, p.open, p.withdrawn],
        color=[GREEN, RED, PURPLE, BROWN],
    )
    outcomes.bar_label(bars)
    outcomes.set_title(
        f"{p.fell_due} promises due (kept {_percent(p.kept_rate)}, "
        f"broken {_percent(p.broken_rate)})"
    )
    outcomes.set_ylabel("promises")

    _pairs(
        axes[1][0],
        "Promised and collected (minor units)",
        [a.currency for a in stats.amounts],
        ("promised", [a.promised_minor for a in stats.amounts], PURPLE),
        ("collected", [a.collected_minor for a in stats.amounts], GREEN),
    )
    _pairs(
        axes[1][1],
        "Outbound contacts by channel",
        [c.channel for c in stats.contacts],
        ("attempts", [c.attempts for c in stats.contacts], BLUE),
        ("right party", [c.right_party_contacts for c in stats.contacts], ORANGE),
    )
    for axis in axes.flat:  # whole counts and amounts, from 0 even when there are none
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylim(0, max(1.0, axis.get_ylim()[1]))
    figure.tight_layout()
    figure.savefig(path, format="png")


BLUE, GREEN, RED, PURPLE, BROWN, ORANGE = (
    "#4c72b0",
    "#55a868",
    "#c44e52",
    "#8172b2",
    "#937860",
    "#dd8452",
)


def _pairs(
    axes: Any,
    title: str,
    names: list[str],
    first: tuple[str, list[int], str],
    second: tuple[str, list[int], str],
) -> None:
    """Two bars per name, labelled with their values."""
    places = list(range(len(names)))
    for offset, (label, values, colour) in ((-0.2, first), (0.2, second)):
        bars = axes.bar([x + offset for x in places], values, 0.4, label=label, color=colour)
        axes.bar_label(bars)
    axes.set_xticks(places, names)
    axes.set_xlim(-0.75, max(len(names), 3) - 0.25)  # a lone pair keeps a bar's width
    axes.set_title(title)
    if names:
        axes.legend()
    else:
        axes.text(0.5, 0.5, "none in the period", ha="center", transform=axes.transAxes)
