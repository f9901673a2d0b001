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
# # Churn and survival
#
# "Churned" means different things in different businesses. The workbench supports five
# definitions; this notebook puts them side by side, then estimates how long customers stay
# (Kaplan-Meier survival curves) by segment, and which attributes drive churn (Cox model).
#
# **What to look for:** how much the churn rate and the median lifetime depend on the
# definition (pick the one that matches how your business loses customers, and say which one
# a number uses); whether the survival curves of segments separate beyond their intervals;
# hazard ratios whose interval excludes 1.

# %%
import plotly.io as pio
import polars as pl

import workbench as wb

pio.renderers.default = "plotly_mimetype"  # figures render in JupyterLab
sample = wb.datasets.load_sample()
events, customers = sample.events, sample.customers
for name, text in wb.CHURN_DEFINITIONS.items():
    print(f"{name}: {text}\n")

# %% [markdown]
# ## Churn definitions side by side

# %%
definitions = {
    "inactivity 90 days": {"inactivity": "90d"},
    "no renewal (subscriptions)": {"subscriptions": sample.subscriptions},
    "cancel event": {"cancel_event": "cancel"},
    "2x own purchase cycle": {"own_cycle": 2.0},
    "P(alive) below 0.3 (BG/NBD)": {"p_alive_below": 0.3},
}
tables = {
    label: wb.churn_table(events, as_of=sample.as_of, customers=customers, **mode)
    for label, mode in definitions.items()
}
pl.concat(
    [
        wb.churn_curves(table).summary.select(
            pl.lit(label).alias("definition"), "customers", "churned", "median_days",
            "rmst_days",
        )
        for label, table in tables.items()
    ]
)

# %% [markdown]
# ## Who counts as churned today
# The share of customers churned on the analysis day under the definitions that need only
# events, with Wilson intervals. Under BG/NBD a customer without a repeat purchase is certainly
# alive (`never_churn`); `p_alive_model="mbgnbd"` lets them leave too.

# %%
wb.compare_churn_definitions(
    events,
    definitions={"inactivity": "90d", "own_cycle": 2.0, "p_alive_below": 0.3},
    as_of=sample.as_of,
)

# %% [markdown]
# ## Survival by acquisition channel (contractual churn)
# Kaplan-Meier curves with 95% bands and the number at risk underneath. The log-rank tests
# compare the channels (pairwise p-values are Benjamini-Hochberg adjusted).

# %%
subscribers = tables["no renewal (subscriptions)"]
curves = wb.churn_curves(subscribers, by="channel")
curves.plot()

# %%
curves.compare()

# %% [markdown]
# ## Drivers of churn
# A Cox proportional-hazards model of subscription churn. A hazard ratio of 1.6 means a 60%
# higher churn rate at any moment of the lifetime, other things equal. The proportional-hazards
# check (`ph_test`) flags covariates whose effect changes over the lifetime.

# %%
drivers = wb.churn_drivers(
    subscribers, covariates=["channel", "plan", "early_support_contacts"]
)
drivers.plot()

# %%
drivers.ph_test

# %% [markdown]
# ## Explore
# Switch the churn definition and its threshold, the segment, the RMST horizon and the
# confidence level. The definition and threshold are the arguments of `wb.churn_table`, the
# rest those of `wb.churn_curves`.

# %%
explorer = wb.explore.SurvivalExplorer(
    events, customers=customers, subscriptions=sample.subscriptions, as_of=sample.as_of,
    by="channel",
)
explorer
