"""Render the monthly report: papermill runs the template notebook, nbconvert writes one HTML file.

Each run writes ``<out>/<YYYY-MM>.html`` atomically (a temporary file in the same folder, then
``os.replace``), keeps the executed notebook in ``<out>/_work/<YYYY-MM>.ipynb`` for debugging,
stores the month's headline numbers in ``<out>/<YYYY-MM>.kpis.json`` and rebuilds
``<out>/index.html`` from every such file.

Data sources never travel as notebook parameters: they reach the kernel through an environment
variable, and everything written (notebook, HTML, error messages) passes through
:func:`redact` so that passwords in database URIs cannot leak.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import threading
from calendar import monthrange
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..errors import BadParameterError, DataSourceError, WorkbenchError, bad_choice
from ..schema import EventSchema

TEMPLATE_NOTEBOOK = Path(__file__).with_name("monthly.ipynb")
TEMPLATES_DIR = Path(__file__).with_name("templates")
TEMPLATE_NAME = "wb_report"
CONFIG_ENV = "WORKBENCH_REPORT_CONFIG"
WORK_DIR = "_work"
KPI_SUFFIX = ".kpis.json"
SIDE_TABLES = ("customers", "subscriptions", "campaigns", "feedback", "annotations")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_ENV_LOCK = threading.Lock()


class ReportError(WorkbenchError):
    """A report could not be rendered (a cell failed, or the kernel died or timed out)."""


# -- redaction ---------------------------------------------------------------------------------

_URI_TAIL = re.compile(r"://[^\s'\"<>`]+")  # starts with a literal: fast on large outputs
_USERINFO = re.compile(r"^://(?P<user>[^\s:/@]*):(?P<pw>[^\s@/]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|secret|token|access_token|api_key|apikey|"
    r"sslpassword)=)(?P<value>[^&;#]+)",
    re.IGNORECASE,
)


def _redact_tail(match: re.Match) -> str:
    tail = _USERINFO.sub(lambda m: f"://{m['user']}:***@", match.group(0))
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}***", tail)


def _fast_redact(text: str) -> str:
    return _URI_TAIL.sub(_redact_tail, text)


@functools.lru_cache(maxsize=1)
def _library_forms() -> tuple[str, ...]:
    """plotly.js as it appears in HTML and in notebook JSON: constant, secret-free, 4.5 MB."""
    from plotly.offline import get_plotlyjs

    lib = get_plotlyjs()
    return (lib, json.dumps(lib)[1:-1])


def redact_uri(text: str) -> str:
    """Hide passwords in every URI of `text`: ``scheme://user:pass@host`` -> ``user:***@host``.

    Also hides ``password=``/``token=``-style parameters. Uses the warehouse module's rule
    (``workbench.warehouse.redact_uri``) when it is present, plus a rule of its own; the
    embedded plotly.js bundle is skipped, it is constant and slow to scan.
    """
    try:
        from ..warehouse import redact_uri as warehouse_redact
    except ImportError:
        warehouse_redact = None
    text = _fast_redact(str(text))
    if warehouse_redact is None:
        return text
    for lib in _library_forms():
        if lib in text:
            return lib.join(warehouse_redact(piece) for piece in text.split(lib))
    return warehouse_redact(text)


def _secrets_of(value: str) -> list[str]:
    """Literal strings that must never be written: the raw URI and its password."""
    out = []
    if "://" in value and value != redact_uri(value):
        out.append(value)
        for tail in _URI_TAIL.finditer(value):
            m = _USERINFO.search(tail.group(0))
            if m and len(m["pw"]) >= 3:
                out.append(f"{m['user']}:{m['pw']}@")
            out += [q.group(0) for q in _SECRET_QUERY.finditer(tail.group(0))]
    return out


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """`text` with known secrets (also JSON-escaped) and any URI password replaced."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        for form in (secret, json.dumps(secret)[1:-1]):
            if form:
                text = text.replace(form, redact_uri(secret) if "://" in secret else "***")
    return redact_uri(text)


def _redact_strings(obj, library: str):
    """Redact every string of a JSON structure, skipping pieces of the plotly.js bundle."""
    if isinstance(obj, str):
        if len(obj) > 2000 and obj in library:
            return obj
        return redact_uri(obj) if ("://" in obj or "=" in obj) else obj
    if isinstance(obj, list):
        return [_redact_strings(v, library) for v in obj]
    if isinstance(obj, dict):
        return {k: _redact_strings(v, library) for k, v in obj.items()}
    return obj


def redact_notebook_json(buf: str, secrets=()) -> str:
    """A notebook's JSON text with secrets and URI passwords removed (nbformat layout kept)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        for form in (secret, json.dumps(secret)[1:-1]):
            if form:
                buf = buf.replace(form, redact_uri(secret) if "://" in secret else "***")
    obj = _redact_strings(json.loads(buf), _library_forms()[0])
    return json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


class _RedactingHandler:
    """papermill I/O handler: writes notebooks to disk only after redaction."""

    PREFIX = "wbredact://"

    def __init__(self):
        self.secrets: dict[str, list[str]] = {}

    def _real(self, path: str) -> str:
        return path[len(self.PREFIX) :]

    def read(self, path):
        return Path(self._real(path)).read_text(encoding="utf-8")

    def listdir(self, path):
        return os.listdir(self._real(path))

    def write(self, buf, path):
        real = self._real(path)
        text = redact_notebook_json(buf.replace(self.PREFIX, ""), self.secrets.get(real, ()))
        _atomic_write(Path(real), text)

    def pretty_path(self, path):
        return self._real(path)


_HANDLER = _RedactingHandler()


def _register_handler():
    from papermill.iorw import papermill_io

    if not any(scheme == _HANDLER.PREFIX for scheme, _ in papermill_io._handlers):
        papermill_io.register(_HANDLER.PREFIX, _HANDLER)


# -- months ------------------------------------------------------------------------------------


def parse_month(value, *, caller: str = "render_report", param: str = "month") -> str:
    """'YYYY-MM' (also accepts a date/datetime) -> canonical 'YYYY-MM' string."""
    if hasattr(value, "year") and hasattr(value, "month"):
        return f"{value.year:04d}-{value.month:02d}"
    text = str(value).strip()
    if not _MONTH.match(text):
        raise BadParameterError(
            f"{caller}: {param}={value!r} is not a month. Fix: write it as YYYY-MM, e.g. '2025-12'."
        )
    return text


def month_range(month: str) -> tuple[datetime, datetime]:
    """[start, next month start) of 'YYYY-MM' in UTC."""
    y, m = int(month[:4]), int(month[5:7])
    start = datetime(y, m, 1, tzinfo=UTC)
    end = start + timedelta(days=monthrange(y, m)[1])
    return start, end


def month_as_of(month: str) -> datetime:
    """The analysis date of a monthly report: the last second of the month (UTC)."""
    return month_range(month)[1] - timedelta(seconds=1)


def previous_month(month: str) -> str:
    start, _ = month_range(month)
    prev = start - timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def months_between(start: str, end: str) -> list[str]:
    """Every month from `start` to `end` inclusive."""
    out, cur = [], start
    while cur <= end:
        out.append(cur)
        nxt = month_range(cur)[1]
        cur = f"{nxt.year:04d}-{nxt.month:02d}"
    return out


def latest_complete_month(last_ts: datetime) -> str:
    """The latest month whose last day the data reaches."""
    last_ts = last_ts if last_ts.tzinfo else last_ts.replace(tzinfo=UTC)
    month = f"{last_ts.year:04d}-{last_ts.month:02d}"
    if last_ts.date() < (month_range(month)[1] - timedelta(days=1)).date():
        month = previous_month(month)
    return month


def data_end(data=None, *, schema=None, table=None, query=None) -> datetime:
    """Last timestamp of an event source (the sample's end of data when `data` is None)."""
    from .. import datasets

    if data is None:
        return datasets.load_sample().as_of
    import polars as pl

    from ..schema import TS
    from ..sources import load_events

    lf = load_events(
        str(data),
        schema=_event_schema(schema),
        table=table,
        query=query,
        on_invalid="drop",
        on_duplicates="keep",
    )
    return lf.select(pl.col(TS).max()).collect().item()


# -- parameters --------------------------------------------------------------------------------


def _event_schema(schema) -> EventSchema:
    if schema is None:
        return EventSchema()
    if isinstance(schema, EventSchema):
        return schema
    if isinstance(schema, dict):
        names = [f.name for f in fields(EventSchema)]
        for key in schema:
            if key not in names:
                raise bad_choice("render_report", "schema key", key, names)
        return EventSchema(**schema)
    raise BadParameterError(
        f"render_report: schema={schema!r} is not supported. Fix: pass an EventSchema or a dict "
        f"such as {{'ts': 'timestamp'}}."
    )


def _schema_dict(schema) -> dict:
    s = _event_schema(schema)
    return {f.name: getattr(s, f.name) for f in fields(EventSchema) if getattr(s, f.name) != f.name}


def _source(value, name: str, tmp: list[Path]) -> str | None:
    """A source as the kernel receives it: an absolute path, a URI, or None."""
    if value is None:
        return None
    if isinstance(value, str | Path):
        text = str(value)
        if "://" in text:
            return text
        path = Path(text).expanduser()
        if not any(ch in text for ch in "*?[") and not path.exists():
            raise DataSourceError(
                f"render_report: {name} file {text!r} does not exist. Fix: check the path "
                f"(working directory is {Path.cwd()})."
            )
        return str(path.resolve()) if path.exists() else str(Path.cwd() / text)
    # An in-memory frame: hand it over as a temporary Parquet file.
    import polars as pl

    if not isinstance(value, pl.DataFrame | pl.LazyFrame):
        try:
            value = pl.from_pandas(value)
        except Exception:
            raise BadParameterError(
                f"render_report: {name} must be a path, a database URI or a polars/pandas frame, "
                f"not {type(value).__name__}."
            ) from None
    frame = value.collect() if isinstance(value, pl.LazyFrame) else value
    handle, path = tempfile.mkstemp(prefix=f"wb_{name}_", suffix=".parquet")
    os.close(handle)
    frame.write_parquet(path)
    tmp.append(Path(path))
    return path


def _check_churn_definition(value: str) -> str:
    text = str(value).strip()
    if not re.match(r"^\d+(\.\d+)?\s*(d|w|day|days|week|weeks)$", text, re.IGNORECASE):
        raise BadParameterError(
            f"render_report: churn_definition={value!r} is not a duration. Fix: give the "
            f"inactivity gap with its unit, e.g. '90d' or '12w'."
        )
    return text


@contextlib.contextmanager
def _kernel_environment(config: dict):
    """Expose the report configuration to the kernel started inside this block."""
    with _ENV_LOCK:
        old = os.environ.get(CONFIG_ENV)
        os.environ[CONFIG_ENV] = json.dumps(config)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = old


# -- writing -----------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str | bytes) -> None:
    """Write through a temporary file in the same folder, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _collect_metadata(nb) -> dict:
    """Table of contents, KPIs and figure count from the section outputs' metadata."""
    toc, kpis, figures = [], None, 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("workbench")
            if not meta:
                continue
            if "section" in meta:
                toc.append(dict(meta["section"]))
            if "kpis" in meta:
                kpis = meta["kpis"]
            figures += int(meta.get("figures", 0))
    return {"toc": toc, "kpis": kpis, "figures": figures}


def export_html(nb, *, title: str, secrets=()) -> tuple[str, dict]:
    """nbconvert HTML of an executed report notebook: no inputs, prompts or parameter cells."""
    import copy

    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    nb = copy.deepcopy(nb)
    meta = _collect_metadata(nb)
    nb.metadata["workbench"] = {"title": title, "toc": meta["toc"]}
    nb.metadata["title"] = title
    for cell in nb.cells:  # stderr (warnings of third parties) stays in the debug notebook
        if "outputs" in cell:
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = {"parameters", "injected-parameters", "remove"}
    c.TagRemovePreprocessor.enabled = True
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    exporter = HTMLExporter(
        config=c, template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)]
    )
    exporter.template_file = f"{TEMPLATE_NAME}.html.j2"
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return redact(body, secrets), meta


# -- index -------------------------------------------------------------------------------------


def write_index(out) -> Path:
    """Rebuild ``<out>/index.html`` from every ``<month>.kpis.json`` in `out`."""
    from .index import index_html

    out = Path(out)
    records = []
    for path in sorted(out.glob(f"*{KPI_SUFFIX}")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    records = [r for r in records if (out / f"{r.get('month')}.html").exists()]
    target = out / "index.html"
    _atomic_write(target, index_html(records))
    return target


# -- rendering ---------------------------------------------------------------------------------


def _previous_record(path: Path) -> dict | None:
    """The headline numbers of an earlier rendering of the same month (to spot late data)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {
        "rendered_at": record.get("rendered_at"),
        "source": record.get("source"),
        "kpis": record.get("kpis", []),
    }


def _failing_cell_message(month: str, exc, nb_path: Path, secrets) -> str:
    code = " ".join((exc.source or "").split())
    code = code if len(code) <= 90 else code[:87] + "..."
    where = f"cell {exc.exec_count}" if exc.exec_count else f"cell #{exc.cell_index}"
    evalue = " ".join((exc.evalue or "").split())
    return redact(
        f"report {month}: {where} `{code}` failed with {exc.ename}: {evalue} "
        f"(executed notebook kept at {nb_path}).",
        secrets,
    )


def render_report(
    month=None,
    *,
    data=None,
    table: str | None = None,
    query: str | None = None,
    customers=None,
    subscriptions=None,
    campaigns=None,
    feedback=None,
    annotations=None,
    out="reports",
    schema=None,
    churn_definition: str = "90d",
    by: str = "channel",
    compare=None,
    timeout: int = 900,
    update_index: bool = True,
) -> Path:
    """Render the monthly report for `month` ('YYYY-MM') and return the HTML path.

    The report analyses the data up to the end of `month` (its analysis date is the month's
    last second) and compares it with the previous month, or with `compare`. `data` is an event
    source (path, directory, glob, database URI or frame); without it the bundled sample data is
    used. Without `month`, the latest complete month of the data is reported.
    `churn_definition` is the inactivity gap after which a customer counts as churned ('90d');
    `by` is the customer attribute used for breakdowns ('channel').
    Output: ``<out>/<month>.html``, ``<out>/<month>.kpis.json``, ``<out>/index.html`` and the
    executed notebook ``<out>/_work/<month>.ipynb``. A failed run raises :class:`ReportError`
    naming the failing cell and leaves any earlier report of that month untouched.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    churn_definition = _check_churn_definition(churn_definition)
    if not isinstance(by, str) or not by.strip():
        raise BadParameterError(
            f"render_report: by={by!r} must be a customer attribute name such as 'channel'."
        )
    schema_map = _schema_dict(schema)
    tmp_files: list[Path] = []
    try:
        sources = {"data": _source(data, "data", tmp_files)}
        if (table is not None or query is not None) and not (
            isinstance(sources["data"], str) and "://" in sources["data"]
        ):
            raise BadParameterError(
                "render_report: table= and query= apply to a database URI in data=. Fix: drop "
                "them, or pass data='postgresql://...' / 'duckdb:///...'."
            )
        for name, value in zip(
            SIDE_TABLES, (customers, subscriptions, campaigns, feedback, annotations), strict=True
        ):
            sources[name] = _source(value, name, tmp_files)
        if month is None:
            month = latest_complete_month(
                data_end(sources["data"], schema=schema, table=table, query=query)
            )
        month = parse_month(month)
        compare = (
            previous_month(month) if compare is None else parse_month(compare, param="compare")
        )
        if compare == month:
            raise BadParameterError(
                f"render_report: compare={compare!r} is the report month itself. Fix: pass "
                f"another month, or leave compare out to use the previous month."
            )
        secrets = [s for v in sources.values() if isinstance(v, str) for s in _secrets_of(v)]
        out = Path(out)
        work = out / WORK_DIR
        work.mkdir(parents=True, exist_ok=True)
        nb_path = (work / f"{month}.ipynb").resolve()
        data_label = redact(
            str(data)
            if isinstance(data, str | Path)
            else ("sample data" if data is None else "in-memory frame")
        )
        parameters = {
            "month": month,
            "compare": compare,
            "churn_definition": churn_definition,
            "by": by,
            "data_label": data_label,
        }
        config = {
            "sources": sources,
            "schema": schema_map,
            "table": table,
            "query": query,
            "previous": _previous_record(out / f"{month}{KPI_SUFFIX}"),
        }
        _register_handler()
        _HANDLER.secrets[str(nb_path)] = secrets
        try:
            with _kernel_environment(config):
                nb = pm.execute_notebook(
                    str(TEMPLATE_NOTEBOOK),
                    _HANDLER.PREFIX + str(nb_path),
                    parameters=parameters,
                    kernel_name="python3",
                    progress_bar=False,
                    execution_timeout=timeout,
                    request_save_on_cell_execute=False,
                    start_timeout=180,
                    # the kernel's own log (a notice about its local TCP sockets) is noise here
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
        except PapermillExecutionError as exc:
            raise ReportError(_failing_cell_message(month, exc, nb_path, secrets)) from None
        except WorkbenchError:
            raise
        except Exception as exc:  # kernel death, timeout, missing kernel
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ReportError(
                redact(
                    f"report {month}: the notebook run stopped ({type(exc).__name__}: {first}). "
                    f"The executed notebook is kept at {nb_path}.",
                    secrets,
                )
            ) from None
        finally:
            _HANDLER.secrets.pop(str(nb_path), None)

        title = f"Monthly retention report {month}"
        html_text, meta = export_html(nb, title=title, secrets=secrets)
        target = out / f"{month}.html"
        _atomic_write(target, html_text)
        record = {
            "month": month,
            "compare": compare,
            "source": data_label,
            "rendered_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "figures": meta["figures"],
            "sections": [item["title"] for item in meta["toc"]],
            "kpis": meta["kpis"] or [],
        }
        _atomic_write(out / f"{month}{KPI_SUFFIX}", redact(json.dumps(record, indent=1), secrets))
        if update_index:
            write_index(out)
        return target
    finally:
        for path in tmp_files:
            with contextlib.suppress(OSError):
                path.unlink()


def render_reports(start, end, *, progress: bool = True, **kwargs) -> list[Path]:
    """Render every month from `start` to `end` ('YYYY-MM', inclusive); index rebuilt once.

    Keyword arguments are those of :func:`render_report` (except `month`). A failing month
    raises :class:`ReportError` after the months before it have been written.
    """
    start = parse_month(start, caller="render_reports", param="start")
    end = parse_month(end, caller="render_reports", param="end")
    if end < start:
        raise BadParameterError(
            f"render_reports: end={end!r} is before start={start!r}. Fix: swap them."
        )
    if "compare" in kwargs and kwargs["compare"] is not None:
        raise BadParameterError(
            "render_reports: compare= applies to a single month; a backfill compares each month "
            "with the previous one. Fix: drop compare=."
        )
    kwargs.pop("compare", None)
    out = Path(kwargs.get("out", "reports"))
    months = months_between(start, end)
    paths = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(months), unit="month", desc="reports")
    try:
        for month in months:
            if bar is not None:
                bar.set_postfix_str(month)
            paths.append(render_report(month, update_index=False, **kwargs))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if paths:
            write_index(out)
    return paths
