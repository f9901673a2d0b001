"""The small frozen result object shared by the lifecycle, rate and revenue analyses."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class TableResult:
    """A tidy `.table`, the `.params` that produced it, its `.definition`, and `.plot()`."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    definition: str = ""
    title: str = ""

    def plot(self, **options):
        raise NotImplementedError  # pragma: no cover

    def _repr_html_(self) -> str:
        shown = {
            k: v for k, v in self.params.items() if not isinstance(v, list | dict) or len(v) < 12
        }
        items = "".join(
            f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
            for k, v in shown.items()
        )
        return (
            f"<div><h4>{html.escape(self.title)}</h4><p><i>{html.escape(self.definition)}</i></p>"
            f"<ul style='columns:2'>{items}</ul>{self.table._repr_html_()}</div>"
        )
