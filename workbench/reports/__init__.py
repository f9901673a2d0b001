"""Monthly report machinery: papermill runs ``monthly.ipynb``, nbconvert writes one HTML file."""

from .render import ReportError, redact_uri, render_report, render_reports, write_index

__all__ = ["ReportError", "redact_uri", "render_report", "render_reports", "write_index"]
