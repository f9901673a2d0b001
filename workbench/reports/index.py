"""``index.html``: one row per rendered month with its headline numbers and a link."""

from __future__ import annotations

from html import escape

_CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1f2933; margin: 24px 32px; }
h1 { font-size: 24px; margin: 0 0 4px 0; }
p.note { color: #5f6b7a; font-size: 12.5px; }
table { border-collapse: collapse; margin-top: 12px; }
th, td { border-bottom: 1px solid #e9ecef; padding: 5px 12px; text-align: right; }
th { background: #f5f7f9; font-weight: 600; }
th:first-child, td:first-child { text-align: left; white-space: nowrap; }
td .delta { color: #5f6b7a; font-size: 12px; display: block; }
td .flag { color: #7a5200; font-weight: 600; }
a { color: #2458a6; }
@media print { a { color: inherit; text-decoration: none; } }
"""


def _cell(kpi: dict | None) -> str:
    if not kpi:
        return "<td>&ndash;</td>"
    delta = kpi.get("change_display") or ""
    flag = ' <span class="flag">&#9650;&#9660;</span>' if kpi.get("flag") else ""
    flag = flag.replace("&#9650;&#9660;", "&#9650;" if kpi.get("direction") == "up" else "&#9660;")
    sub = f'<span class="delta">{escape(delta)}{flag}</span>' if delta else ""
    return f"<td>{escape(str(kpi.get('display', '')))}{sub}</td>"


def index_html(records: list[dict]) -> str:
    """Self-contained HTML listing every month (newest first) with its KPIs."""
    records = sorted(records, key=lambda r: r.get("month", ""), reverse=True)
    columns: list[tuple[str, str]] = []
    for record in records:
        for kpi in record.get("kpis", []):
            key = (kpi.get("key"), kpi.get("label"))
            if key not in columns:
                columns.append(key)
    head = "".join(f"<th>{escape(str(label))}</th>" for _, label in columns)
    rows = []
    for record in records:
        month = escape(str(record.get("month", "")))
        by_key = {k.get("key"): k for k in record.get("kpis", [])}
        cells = "".join(_cell(by_key.get(key)) for key, _ in columns)
        rows.append(
            f'<tr><td><a href="{month}.html">{month}</a></td>{cells}'
            f"<td>{escape(str(record.get('compare', '')))}</td></tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="2">No report rendered yet.</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Monthly retention reports</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Monthly retention reports</h1>
<p class="note">{len(records)} month(s). Changes are against the comparison month; a marker
means the change is statistically real (test named in each report).</p>
<table>
<thead><tr><th>Month</th>{head}<th>Compared with</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
