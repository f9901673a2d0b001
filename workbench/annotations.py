"""Business-event annotations: what happened in the market, when, and to whom.

An annotations table has one row per event: ``start`` and ``end`` (UTC calendar days, ``end``
inclusive; a one-day event has ``end == start``), a ``label``, an optional ``kind`` (pricing,
incident, competitor, ...) and an optional segment it applies to (``segment_column`` and
``segment_value``, e.g. ``country`` = ``DE``; both empty when it applies to everyone).
Load it with :func:`load_annotations`; figures draw it with
``workbench.plots.annotations.add_annotations`` and :func:`workbench.event_impact` measures
whether churn changed after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from .errors import BadDataError, BadParameterError, MissingColumnError, closest, examples
from .schema import CUSTOMER_ID, CustomerSchema, Role, _RoleSchema, _to_lazy, canonical

# Canonical annotation columns.
START = "start"
END = "end"
LABEL = "label"
KIND = "kind"
SEGMENT_COLUMN = "segment_column"
SEGMENT_VALUE = "segment_value"
ANNOTATION_COLUMNS = (START, END, LABEL, KIND, SEGMENT_COLUMN, SEGMENT_VALUE)

ANNOTATIONS_DEFINITION = (
    "Annotations: business events (price changes, incidents, competitor launches, campaigns) "
    "with a start and an inclusive end day (UTC), a label, a kind and optionally the segment "
    "they apply to (a customer attribute and its value). Figures over calendar time mark "
    "one-day events with a labelled line and longer ones with a shaded range."
)

# Far enough ahead that planned events (a price change next quarter) are accepted.
_NO_LIMIT = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class AnnotationSchema(_RoleSchema):
    """Maps a user's annotation column names onto the canonical roles.

    >>> AnnotationSchema(start="date", label="event")

    Roles: ``start`` (date or timestamp, required), ``end`` (optional; defaults to ``start``;
    inclusive), ``label`` (required), ``kind`` (optional), ``segment_column`` and
    ``segment_value`` (optional; the customer attribute and value the event applies to).
    """

    start: str = START
    end: str = END
    label: str = LABEL
    kind: str = KIND
    segment_column: str = SEGMENT_COLUMN
    segment_value: str = SEGMENT_VALUE

    TABLE = "annotations"
    ROLES = (
        Role(START, "datetime", True, "start date"),
        Role(END, "datetime", False, "end date (inclusive)"),
        Role(LABEL, "string", True, "label"),
        Role(KIND, "string", False, "kind"),
        Role(SEGMENT_COLUMN, "string", False, "segment column"),
        Role(SEGMENT_VALUE, "string", False, "segment value"),
    )


def load_annotations(
    source,
    *,
    schema: AnnotationSchema | None = None,
    customers=None,
    customer_schema: CustomerSchema | None = None,
    tz: str | None = None,
    ts_format: str | None = None,
    on_invalid: str = "raise",
    on_duplicates: str = "warn",
    as_of=None,
    table: str | None = None,
    query: str | None = None,
) -> pl.DataFrame:
    """Read an annotations table (CSV/Parquet path, frame or database URI) and validate it.

    Columns are mapped through `schema` and validated like `wb.load_events`: a missing ``start``
    or ``label`` column, null labels or start dates, and unparseable dates raise a
    `WorkbenchError` (``on_invalid="drop"`` drops those rows with a warning). Then: ``end``
    defaults to ``start``; an ``end`` before its ``start`` is an error, and so is a segment
    column without a value (or the reverse). With `customers`, every ``segment_column`` must be
    a column of that table and every ``segment_value`` one of its values.

    Returns a polars DataFrame (annotation tables are small) with the columns start, end
    (Date, UTC days), label, kind, segment_column, segment_value, sorted by start. Dates after
    `as_of` are accepted unless `as_of` is given (planned events are fine).
    """
    from .sources import _load

    caller = "load_annotations"
    lf, _ = _load(
        source,
        schema or AnnotationSchema(),
        caller=caller,
        table_name=table,
        query=query,
        tz=tz,
        ts_format=ts_format,
        on_invalid=on_invalid,
        on_duplicates=on_duplicates,
        as_of=_NO_LIMIT if as_of is None else as_of,
    )
    return _finish(lf, caller, customers=customers, customer_schema=customer_schema)


def annotation_table(
    annotations,
    *,
    caller: str,
    schema: AnnotationSchema | None = None,
    customers=None,
    customer_schema: CustomerSchema | None = None,
) -> pl.DataFrame:
    """Validated canonical annotations from a frame, a dict (one event), a list of dicts, or a
    date (an unlabelled one-day event, e.g. a placebo date); used by every analysis."""
    from .sources import _validate

    if isinstance(annotations, dict):
        annotations = [annotations]
    if isinstance(annotations, list) and all(isinstance(a, dict) for a in annotations):
        if not annotations:
            raise BadDataError(f"{caller}: the annotations list is empty. Fix: pass at least one.")
        annotations = pl.DataFrame(annotations, infer_schema_length=None)
    elif isinstance(annotations, str | date):
        day = _parse_day(annotations, caller)
        annotations = pl.DataFrame({START: [day], LABEL: [day.isoformat()]})
    lf = _to_lazy(annotations, caller, "annotations")
    out, _ = _validate(
        lf,
        schema or AnnotationSchema(),
        caller=caller,
        source_name="annotations",
        tz=None,
        ts_format=None,
        on_invalid="raise",
        on_duplicates="keep",
        as_of=_NO_LIMIT,
    )
    return _finish(out, caller, customers=customers, customer_schema=customer_schema)


def _parse_day(value, caller: str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise BadParameterError(
            f"{caller}: annotation={value!r} is neither an annotations table nor an ISO date. "
            f"Fix: pass a row of wb.load_annotations(...) or a date such as '2025-03-01'."
        ) from None


def _finish(lf: pl.LazyFrame, caller: str, *, customers, customer_schema) -> pl.DataFrame:
    """Canonical day columns, defaults and the checks across columns."""
    names = lf.collect_schema().names()
    fill = [
        pl.lit(None, dtype=pl.String).alias(c)
        for c in (KIND, SEGMENT_COLUMN, SEGMENT_VALUE)
        if c not in names
    ]
    end = pl.col(END) if END in names else pl.col(START)
    frame = (
        lf.with_columns(*fill)
        .with_columns(
            pl.col(START).dt.date().alias(START),
            pl.coalesce(end, pl.col(START)).dt.date().alias(END),
        )
        .with_columns(
            pl.col(c).str.strip_chars().replace("", None)
            for c in (LABEL, KIND, SEGMENT_COLUMN, SEGMENT_VALUE)
        )
        .select(*ANNOTATION_COLUMNS, pl.exclude(ANNOTATION_COLUMNS))
        .sort(START, END, LABEL)
        .collect()
    )
    blank = frame.filter(pl.col(LABEL).is_null())
    if blank.height:
        raise BadDataError(
            f"{caller}: annotations column 'label' is blank on {blank.height} of {frame.height} "
            f"rows (starting {examples([str(d) for d in blank[START].to_list()])}). Fix: give every "
            f"event a label."
        )
    backwards = frame.filter(pl.col(END) < pl.col(START))
    if backwards.height:
        r = backwards.row(0, named=True)
        raise BadDataError(
            f"{caller}: annotation {r[LABEL]!r} ends ({r[END]}) before it starts ({r[START]}); "
            f"{backwards.height} row(s) in all. Fix: swap or correct start and end."
        )
    half = frame.filter(pl.col(SEGMENT_COLUMN).is_null() != pl.col(SEGMENT_VALUE).is_null())
    if half.height:
        r = half.row(0, named=True)
        raise BadDataError(
            f"{caller}: annotation {r[LABEL]!r} has segment_column={r[SEGMENT_COLUMN]!r} but "
            f"segment_value={r[SEGMENT_VALUE]!r}. Fix: give both (e.g. 'country' and 'DE') or "
            f"neither (the event applies to everyone)."
        )
    if customers is not None:
        check_segments(frame, customers, caller=caller, customer_schema=customer_schema)
    return frame


def check_segments(
    frame: pl.DataFrame, customers, *, caller: str, customer_schema: CustomerSchema | None = None
) -> None:
    """Every annotation segment names a customers column and one of its values."""
    segs = frame.filter(pl.col(SEGMENT_COLUMN).is_not_null())
    if not segs.height:
        return
    cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
    names = cust.collect_schema().names()
    for col in segs[SEGMENT_COLUMN].unique(maintain_order=True).to_list():
        label = segs.filter(pl.col(SEGMENT_COLUMN) == col)[LABEL][0]
        if col not in names or col == CUSTOMER_ID:
            options = [n for n in names if n != CUSTOMER_ID]
            hint = closest(col, options)
            did = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: annotation {label!r} applies to segment column {col!r}, which the "
                f"customers table does not have. Available: {options}.{did} Fix: correct "
                f"segment_column, or add the attribute to customers."
            )
        values = (
            cust.select(pl.col(col).cast(pl.String).unique().drop_nulls())
            .collect()
            .to_series()
            .to_list()
        )
        wanted = segs.filter(pl.col(SEGMENT_COLUMN) == col)
        for r in wanted.iter_rows(named=True):
            if r[SEGMENT_VALUE] not in values:
                hint = closest(r[SEGMENT_VALUE], values)
                did = f" Did you mean {hint!r}?" if hint else ""
                raise BadDataError(
                    f"{caller}: annotation {r[LABEL]!r} applies to {col} = "
                    f"{r[SEGMENT_VALUE]!r}, but no customer has that value. Available: "
                    f"{sorted(values)[:20]}.{did} Fix: correct segment_value."
                )


def segment_text(column: str | None, value: str | None) -> str:
    """'country = DE', or 'everyone' for an event without a segment."""
    return "everyone" if column is None else f"{column} = {value}"


__all__ = [
    "ANNOTATIONS_DEFINITION",
    "AnnotationSchema",
    "annotation_table",
    "check_segments",
    "load_annotations",
]
