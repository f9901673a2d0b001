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
# # Cohorts and retention
#
# A cohort is the set of customers who started in the same period. The retention triangle
# shows, for each cohort (rows) and each period since its start (columns), the share of the
# cohort that came back. The exact definitions are in `wb.RETENTION_DEFINITIONS`.
#
# **What to look for:** a diagonal band of darker or lighter cells is a calendar effect (an
# outage, a price change) hitting every cohort in the same month; a row that is paler than
# its neighbours is a weak cohort (an acquisition campaign that brought the wrong
# customers). Faded cells marked `*` are periods that are not over yet.

# %%
import plotly.io as pio

import workbench as wb

pio.renderers.default = "plotly_mimetype"  # figures render in JupyterLab
sample = wb.datasets.load_sample()
events, customers = sample.events, sample.customers

# %%
matrix = wb.retention_matrix(events, period="month", customers=customers)
wb.plot_retention_heatmap(matrix)

# %% [markdown]
# ## Retention curves by acquisition channel
# The mean curve per channel pools all complete cells, weighted by cohort size. With
# `interval="cohorts"` its band covers the variation between cohorts as well as the sampling
# of customers, so it says how "a cohort like these" retains (the default, "pooled", is the
# narrower Wilson band of the pooled counts). Dotted lines are industry averages for context,
# not targets.
#
# **What to look for:** curves that separate early (period 1-2) point at onboarding; curves
# that separate later point at the product or the price.

# %%
by_channel = wb.retention_matrix(events, period="month", by="channel", customers=customers)
curves = wb.retention_curve(by_channel, interval="cohorts")
wb.plot_retention_curves(curves, unit="month", reference=True)

# %% [markdown]
# ## Lifecycle: new, returning, resurrected and dormant customers
# Each month's active customers split by where they came from; dormant customers (active
# last month, not this one) are drawn below zero. The quick ratio is (new + resurrected) /
# dormant: above 1 the active base grows.

# %%
cycle = wb.lifecycle(events, period="month")
cycle.plot()

# %% [markdown]
# ## Customer retention rate (CRR)
# CRR = (customers at the end of the period - new customers) / customers at the start. For
# subscriptions a customer is one with a paid period covering the date.
#
# **What to look for:** a dip in a single month that recovers (an incident) versus a level
# shift (a price change).

# %%
crr = wb.customer_retention_rate(subscriptions=sample.subscriptions, period="month")
crr.plot()

# %% [markdown]
# ## Day 1, day 7, day 30
# The classic app metrics: the share of new customers with an event exactly 1, 7 or 30 days
# after their start, pooled over cohorts, by channel.

# %%
days = wb.day_n_retention(
    events, days=(1, 7, 30), per_cohort=False, by="channel", customers=customers
)
days

# %%
wb.plot_retention_curves(days, unit="day")

# %% [markdown]
# ## Explore
# Change the period, the retention mode (exactly in period k, or in k or later), the
# reference (share of the cohort, or of those active the period before) or the breakdown.
# Each control is an argument of `wb.retention_matrix`; `explorer.arguments()` shows the
# call that produced the view.

# %%
explorer = wb.explore.CohortExplorer(events, customers=customers)
explorer

# %%
{k: v for k, v in explorer.arguments().items() if k != "customers"}
