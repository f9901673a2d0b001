"""Shared machinery of the explorers: debounced refresh, a result cache, figure and table sync.

An explorer is a thin view over one headless function. Its data controls (``.controls``) are
exactly that function's arguments: ``.arguments()`` turns the control values into the keyword
arguments it passes, ``.result`` is the function's last return value, and the figures are the
plot builders' figures of that result, copied into plotly ``FigureWidget``s. Nothing is
computed that a direct call would not compute.

Responsiveness: a control change schedules a refresh after a short quiet time (``debounce``
seconds, so dragging a slider computes once), and every result is kept in a small cache keyed
on the control values, so going back to an earlier setting only redraws.
"""

from __future__ import annotations

import asyncio
import copy
import html
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable

import ipywidgets as widgets
import plotly.graph_objects as go
import polars as pl

from ..errors import WorkbenchError, WorkbenchWarning
from ..schema import CustomerSchema, EventSchema, canonical

_STYLE = {"description_width": "initial"}


class Debouncer:
    """Call ``fn`` once, ``wait`` seconds after the last trigger; ``flush()`` runs it now.

    Inside a Jupyter kernel the timer runs on the kernel's event loop, in the thread that also
    handles widget messages; without a running loop a daemon ``threading.Timer`` is used.
    ``wait <= 0`` calls ``fn`` at once on every trigger.
    """

    def __init__(self, fn: Callable[[], object], wait: float):
        self.fn = fn
        self.wait = float(wait)
        self._handle = None
        self._pending = False
        self._lock = threading.RLock()

    @property
    def pending(self) -> bool:
        return self._pending

    def __call__(self) -> None:
        if self.wait <= 0:
            self.fn()
            return
        with self._lock:
            self._cancel()
            self._pending = True
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                timer = threading.Timer(self.wait, self.flush)
                timer.daemon = True
                timer.start()
                self._handle = timer
            else:
                self._handle = loop.call_later(self.wait, self.flush)

    def flush(self) -> bool:
        """Run a pending call now; True when there was one."""
        with self._lock:
            self._cancel()
            if not self._pending:
                return False
            self._pending = False
        self.fn()
        return True

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def freeze(value):
    """A hashable stand-in for a control value (lists become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def dropdown(name: str, options, value=None, **kw) -> widgets.Dropdown:
    """A dropdown whose description is the function argument it sets; None shows '(none)'."""
    opts = [
        ("(none)", None) if o is None else o if isinstance(o, tuple) else (str(o), o)
        for o in options
    ]
    values = [v for _, v in opts]
    w = widgets.Dropdown(
        options=opts,
        index=values.index(value) if value in values else 0,
        description=name,
        style=_STYLE,
        layout=widgets.Layout(width="auto", margin="2px 16px 2px 0"),
        **kw,
    )
    w.observe(_show_none, names="index")
    return w


def as_of_picker(events: pl.DataFrame) -> widgets.DatePicker:
    """The analysis date (``as_of``): empty means the function's default (the latest event),
    limited to the days the events cover."""
    from ..schema import TS

    lo, hi = events[TS].min(), events[TS].max()
    w = widgets.DatePicker(
        description="as_of",
        value=None,
        style=_STYLE,
        layout=widgets.Layout(width="auto", margin="2px 16px 2px 0"),
    )
    if lo is not None:
        w.min, w.max = lo.date(), hi.date()
    return w


def _show_none(change) -> None:
    # ipywidgets reads value=None as "nothing selected" (a blank box); select "(none)" instead.
    w = change["owner"]
    if w.index is None and w.value is None:
        values = [v for _, v in w.options]
        if None in values:
            w.index = values.index(None)


def table_html(frame: pl.DataFrame, rows: int) -> str:
    """The head of a tidy table as HTML (polars' own rendering), with its full shape."""
    if frame is None:
        return ""
    head = frame.head(rows)
    return (
        f"<div style='font-size:12px'>{frame.height:,} rows x {frame.width} columns; first "
        f"{head.height} shown</div>" + head._repr_html_()
    )


def sync_figure(target: go.FigureWidget, source: go.Figure) -> None:
    """Replace the traces and layout of a FigureWidget with those of a built figure."""
    with target.batch_update():
        target.data = ()
        target.add_traces(list(source.data))
        target.layout = source.layout
    # The edits above travel as one-off messages that only a front end whose plotly code has
    # already loaded can apply; one that is still loading (a busy browser) would keep the
    # figure it started with. Storing the full state as well (as plotly does when a
    # FigureWidget is created) lets every view start from the current figure.
    target._widget_data = copy.deepcopy(target._data)
    target._widget_layout = copy.deepcopy(target._layout_obj._props)


def canonical_events(events, schema: EventSchema | None, caller: str) -> pl.DataFrame:
    """The event log in canonical form, collected once for every later call."""
    return canonical(events, schema=schema, caller=caller).collect()


def canonical_customers(customers, schema: CustomerSchema | None, caller: str):
    if customers is None:
        return None
    return canonical(customers, schema=schema, caller=caller, default=CustomerSchema).collect()


def string_columns(frame: pl.DataFrame | None, skip=()) -> list[str]:
    """Text, boolean and categorical columns: candidates for a breakdown."""
    if frame is None:
        return []
    return [
        c
        for c, t in frame.schema.items()
        if c not in skip
        and (t in (pl.String, pl.Boolean, pl.Categorical) or isinstance(t, pl.Enum))
    ]


class Explorer:
    """Base class: data controls -> ``arguments()`` -> headless function -> figures and table.

    Subclasses set ``title`` and ``figure_names`` and implement ``_make_controls``,
    ``arguments``, ``compute`` (the headless call), ``draw`` (plot builders) and ``tidy`` (the
    table shown). Public attributes: ``controls`` (name -> widget, the function's arguments),
    ``result`` (last headless result), ``figure`` / ``figures`` (FigureWidgets), ``widget``
    (the box to display), ``status`` (HTML: timing, notes, errors), ``error`` (the last
    WorkbenchError, or None), ``notes`` (warnings of the last computation), ``timings``
    (seconds of the last refresh: compute, draw, display, total, cached).
    """

    title = "Explorer"
    figure_names: tuple[str, ...] = ("main",)

    def __init__(self, *, debounce: float = 0.25, rows: int = 10, cache_size: int = 32):
        self.rows = rows
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()
        self.result = None
        self.error: WorkbenchError | None = None
        self.notes: list[str] = []
        self.timings: dict = {}
        self.controls: dict[str, widgets.ValueWidget] = self._make_controls()
        self.figures = {name: go.FigureWidget() for name in self.figure_names}
        self.table_html = widgets.HTML()
        self.status = widgets.HTML()
        self._debounce = Debouncer(self.refresh, debounce)
        for w in self.controls.values():
            w.observe(self._changed, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HTML(f"<h3 style='margin:4px 0'>{html.escape(self.title)}</h3>"),
                widgets.Box(
                    list(self.controls.values()),
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                self.status,
                *self.figures.values(),
                self.table_html,
                *self._extra_widgets(),
            ]
        )
        self.widget.add_class("wb-explorer")
        self.refresh()

    # -- to implement -----------------------------------------------------------------------
    def _make_controls(self) -> dict[str, widgets.ValueWidget]:
        raise NotImplementedError

    def arguments(self) -> dict:
        """The keyword arguments passed to the headless function (pure: no computation)."""
        raise NotImplementedError

    def compute(self, arguments: dict):
        raise NotImplementedError

    def _with_as_of(self, args: dict) -> dict:
        """`args` with as_of: the as_of control's date, else the explorer's own as_of, else
        none (the headless function's default: the latest event)."""
        picked = args.pop("as_of", None)
        value = picked if picked is not None else getattr(self, "as_of", None)
        return {**args, "as_of": value} if value is not None else args

    def draw(self, result) -> dict[str, go.Figure]:
        raise NotImplementedError

    def tidy(self, result) -> pl.DataFrame:
        return result if isinstance(result, pl.DataFrame) else result.table

    def _extra_widgets(self) -> list:
        return []

    def _after_refresh(self) -> None:
        """Hook for panels that follow the result (e.g. option lists)."""

    # -- machinery --------------------------------------------------------------------------
    @property
    def figure(self) -> go.FigureWidget:
        """The main FigureWidget."""
        return self.figures[self.figure_names[0]]

    @property
    def table(self) -> pl.DataFrame | None:
        """The tidy table shown under the figure (its head is rendered)."""
        return None if self.result is None else self.tidy(self.result)

    def _key(self):
        """Cache key: the arguments without the (fixed) input tables."""
        frames = (pl.DataFrame, pl.LazyFrame)
        return freeze({k: v for k, v in self.arguments().items() if not isinstance(v, frames)})

    def _changed(self, _change=None) -> None:
        self._debounce()

    def flush(self) -> bool:
        """Run a pending (debounced) refresh now; True when one was pending."""
        return self._debounce.flush()

    def refresh(self) -> None:
        """Recompute (or take from the cache) and redraw for the current control values."""
        with self._lock:
            start = time.perf_counter()
            key = self._key()
            cached = key in self._cache
            try:
                if cached:
                    self._cache.move_to_end(key)
                    result, figs, notes = self._cache[key]
                    t_compute = t_draw = 0.0
                else:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", WorkbenchWarning)
                        result = self.compute(self.arguments())
                        t_compute = time.perf_counter() - start
                        figs = self.draw(result)
                    t_draw = time.perf_counter() - start - t_compute
                    notes = list(dict.fromkeys(str(w.message) for w in caught))
                    self._cache[key] = (result, figs, notes)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            except WorkbenchError as exc:
                self.error = exc
                self.status.value = (
                    f"<div style='color:#b00020'><b>Not updated:</b> {html.escape(str(exc))}</div>"
                )
                return
            except Exception as exc:  # a bug: say so in the view, then raise as usual
                self.status.value = (
                    "<div style='color:#b00020'><b>Failed:</b> "
                    f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>"
                )
                raise
            t0 = time.perf_counter()
            self.error = None
            self.result, self.notes = result, notes
            for name, fig in figs.items():
                sync_figure(self.figures[name], fig)
            self.table_html.value = table_html(self.tidy(result), self.rows)
            self._after_refresh()
            t_display = time.perf_counter() - t0
            total = time.perf_counter() - start
            self.timings = {
                "compute": t_compute,
                "draw": t_draw,
                "display": t_display,
                "total": total,
                "cached": cached,
            }
            note_html = "".join(
                f"<div style='color:#8a6d00'>Note: {html.escape(n)}</div>" for n in notes
            )
            self.status.value = (
                f"<div style='color:#555;font-size:12px' class='wb-status'>Updated in "
                f"{total:.2f} s{' (cached result)' if cached else ''}.</div>{note_html}"
            )

    def close(self) -> None:
        """Close every widget of the explorer."""
        self._debounce._cancel()
        for w in [*self.controls.values(), *self.figures.values(), self.table_html, self.status]:
            w.close()
        self.widget.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={freeze(w.value)!r}" for k, w in self.controls.items())
        return f"{type(self).__name__}({args})"
