"""Reports as files staff use: an Excel workbook (formula characters neutralised, as in every
table we write) and a bar chart (PNG) to paste into the report for the funding body."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # no pyplot: no display, no global state
from matplotlib.ticker import MaxNLocator

from listonosz.contacts.csvout import neutralise


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """One sheet per table (its index as the first column); text cells neutralised."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, table in sheets.items():
            safe = table.copy()
            safe.index = [neutralise(value) for value in safe.index]
            safe.index.name = table.index.name
            for column in safe.columns:
                if safe[column].dtype == object:
                    safe[column] = safe[column].map(neutralise)
            safe.to_excel(writer, sheet_name=name[:31])


def write_chart(table: pd.DataFrame, title: str, path: Path) -> None:
    """Delivered, bounced and complained per row of ``table`` (the total left out), as a
    horizontal bar chart in PNG."""
    rows = table.drop(index="Razem", errors="ignore")
    bounced = rows["hard"] + rows["soft"] + rows["block"]
    plotted = pd.DataFrame(
        {
            "Dostarczone": rows["delivered"],
            "Odbite lub zablokowane": bounced,
            "Skargi na spam": rows["complaints"],
        },
        index=rows.index,
    ).iloc[::-1]
    height = max(3.5, 0.5 * len(plotted) + 2.0)
    figure = Figure(figsize=(9, height), dpi=120)
    axes = figure.subplots()
    plotted.plot.barh(ax=axes, color=["#1e6b34", "#b35900", "#8b1a1a"], width=0.8)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel("Liczba wiadomości")
    axes.set_ylabel("")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, format="png")
