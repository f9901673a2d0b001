# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Start here: load your own data
#
# The workbench works on an **event log**: one row per thing a customer did, with at least a
# customer id and a timestamp (plus, optionally, the event name, an amount and a category).
# This notebook writes the bundled sample data to a temporary folder as CSV and Parquet files
# (exactly what `workbench sample-data --out DIR` does), then loads them the way you would
# load your own export, maps your column names through `wb.EventSchema`, and checks the data
# with `wb.check_events`.
#
# **What to look for:** the data-quality report (rows read, rows rejected and why, duplicate
# rows, first and last timestamp). A date range that stops early or many rejected rows mean
# the export needs fixing before any retention number is trusted.

# %%
import tempfile
from pathlib import Path

import plotly.io as pio
import polars as pl

import workbench as wb
from workbench.cli import main as workbench_cli

pio.renderers.default = "plotly_mimetype"  # figures render in JupyterLab
folder = Path(tempfile.mkdtemp(prefix="workbench-start-"))

# %% [markdown]
# ## Files: CSV and Parquet
# `workbench sample-data` writes one file per table. Here it is called from Python, once per
# format.

# %%
workbench_cli(["sample-data", "--out", str(folder), "--format", "csv"])
workbench_cli(["sample-data", "--out", str(folder), "--format", "parquet"])
sorted(p.name for p in folder.iterdir())

# %% [markdown]
# `wb.load_events` reads a CSV or Parquet file (or a folder / glob of Parquet files, a polars
# or pandas frame, or a database) into the canonical shape and validates it. It returns a
# polars LazyFrame: nothing is read until it is needed.

# %%
events = wb.load_events(folder / "events.parquet").collect()
customers = wb.load_customers(folder / "customers.csv").collect()
events.head()

# %%
report = wb.check_events(folder / "events.csv")
report.to_frame()

# %% [markdown]
# ## Your own column names
# Your export will rarely use the canonical names (`customer_id`, `ts`, `event`, `amount`,
# `category`). Map them once with `wb.EventSchema`. Below, the sample is rewritten with other
# names, as an export from another system might look.

# %%
(
    pl.read_csv(folder / "events.csv")
    .rename({"customer_id": "user", "ts": "timestamp", "event": "action", "amount": "revenue"})
    .write_csv(folder / "my_export.csv")
)
my_schema = wb.EventSchema(customer_id="user", ts="timestamp", event="action", amount="revenue")
mine = wb.load_events(folder / "my_export.csv", schema=my_schema).collect()
mine.columns

# %% [markdown]
# ## Bad input is caught with a message that says what to do
# Loading the same file without the schema fails with a `MissingColumnError` that names the
# missing column, the closest match and the fix. A few unparseable timestamps make
# `load_events` stop (`BadDataError`), while `check_events` counts them.

# %%
try:
    wb.load_events(folder / "my_export.csv")
except wb.WorkbenchError as error:
    print(f"{type(error).__name__}: {error}")

# %%
broken = pl.read_csv(folder / "my_export.csv")
pl.concat([broken, broken.tail(3).with_columns(timestamp=pl.lit("yesterday"))]).write_csv(
    folder / "broken.csv"
)
try:
    wb.load_events(folder / "broken.csv", schema=my_schema).collect()
except wb.WorkbenchError as error:
    print(f"{type(error).__name__}: {error}")
wb.check_events(folder / "broken.csv", schema=my_schema).to_frame()

# %% [markdown]
# ## Databases
# A database URI plus `table=` or `query=` works the same way; the log is reduced to one row
# per customer, event and day inside the database, so only a compact table travels:
#
# ```python
# events = wb.load_events("postgresql://reader@host:5432/shop", table="events",
#                         schema=my_schema)
# events = wb.load_events("duckdb:///warehouse.duckdb", query="SELECT * FROM events")
# ```
#
# ## A first look
# With the events loaded, every analysis is one call. The monthly retention triangle:

# %%
matrix = wb.retention_matrix(events, period="month")
wb.plot_retention_heatmap(matrix)

# %% [markdown]
# Next: `02_cohorts_and_retention` (cohorts in depth), `03_churn_and_survival`,
# `04_leaving_customers`, `05_winback` and `06_campaigns_and_funnels`.
