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
# # Win-back: who to contact, why, and with what
#
# Three signals find customers worth winning back: **overdue** customers (the time since their
# last purchase is well beyond their own usual gap), **category drop-outs** (a regular buyer of
# a category who stopped buying it while still buying others) and **long inactivity**. Each
# candidate gets a value at stake (expected spend over the next 90 days, BG/NBD x
# Gamma-Gamma), a reason and an offer; the list is exported for the campaign tool.
#
# **What to look for:** customers far overdue *and* with a high value at stake come first;
# category drop-outs point at a problem with one category (price, stock, a competitor) rather
# than with the customer; hold out a random control group when you send (see
# `06_campaigns_and_funnels`) so the effect can be measured.

# %%
import tempfile
from pathlib import Path

import plotly.io as pio

import workbench as wb
from workbench.plots.leaving import winback_figure

pio.renderers.default = "plotly_mimetype"  # figures render in JupyterLab
sample = wb.datasets.load_sample()
events, customers = sample.events, sample.customers
print(wb.OVERDUE_DEFINITION)

# %% [markdown]
# ## Overdue customers

# %%
overdue = wb.overdue_customers(events, as_of=sample.as_of, k=1.5)
overdue.plot()

# %%
overdue.table.select(
    "customer_id", "category", "n_purchases", "days_overdue", "p_alive", "value_at_stake"
).head(10)

# %% [markdown]
# ## Category drop-outs

# %%
dropouts = wb.category_dropouts(events, as_of=sample.as_of)
print(f"{dropouts.height} customers stopped buying a category they used to buy")
dropouts.group_by("category").len().sort("len", descending=True)

# %% [markdown]
# ## The target list, and its export
# `wb.winback_targets` combines the signals (reusing the two results above), picks each
# customer's strongest reason and an offer, and the channel to reach them.
# `wb.export_targets` writes it atomically; with `pseudonymise=True` ids become salted hashes.

# %%
targets = wb.winback_targets(
    events,
    as_of=sample.as_of,
    customers=customers,
    campaigns=sample.campaigns,
    overdue=overdue,
    dropouts=dropouts,
)
winback_figure(targets)

# %%
targets.head(10)

# %%
out = Path(tempfile.mkdtemp(prefix="workbench-winback-"))
path = wb.export_targets(targets, out / "winback_targets.csv")
print(f"wrote {targets.height:,} targets to {path}")

# %% [markdown]
# ## Explore
# Tighten or loosen the rules (how overdue, how long inactive, which value quantile counts as
# high) and see how the list changes; *Export* writes the current list.

# %%
explorer = wb.explore.WinbackExplorer(
    events,
    customers=customers,
    campaigns=sample.campaigns,
    as_of=sample.as_of,
    export_path=str(out / "explored_targets.csv"),
)
explorer
