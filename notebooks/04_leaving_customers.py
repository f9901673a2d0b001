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
# # Leaving customers: who left, how they differed, who is likely next
#
# Take a cut-off date, describe every customer with what was known then (tenure, recency,
# purchase trend, support contacts, category mix, plan, ...), and label them churned when they
# showed no activity in the following 90 days. Comparing churned with retained customers
# shows the patterns of leaving; problem segments show *where* churn concentrates; a model
# trained on the same features scores today's customers who look like the ones who left.
#
# **What to look for:** large effects that are significant after the false-discovery-rate
# adjustment (red bars), not just small p-values; segments whose churn rate is above the base
# rate *and* that hold a lot of value; a propensity model whose holdout AUC is clearly above
# 0.5 and whose calibration points lie near the diagonal.

# %%
import plotly.io as pio

import workbench as wb

pio.renderers.default = "plotly_mimetype"  # figures render in JupyterLab
sample = wb.datasets.load_sample()
events, customers = sample.events, sample.customers
cutoff = "2025-07-01"

# %% [markdown]
# ## Departed vs retained

# %%
patterns = wb.departed_patterns(
    events,
    cutoff=cutoff,
    horizon="90d",
    customers=customers,
    subscriptions=sample.subscriptions,
    annotations=sample.annotations,
)
patterns.plot()

# %%
patterns.significant.select(
    "feature", "level", "churned_value", "retained_value", "effect_size", "p_adjusted"
).head(10)

# %% [markdown]
# ## Problem segments
# Segments (one attribute value, or a pair) whose churn rate is significantly above the base
# rate, ranked by value at risk.

# %%
segments = wb.problem_segments(
    events, cutoff=cutoff, customers=customers
)
segments.plot()

# %% [markdown]
# ## Lookalike risk
# A logistic model on the same point-in-time features, checked on a holdout; `score` then
# gives each currently active customer the probability of looking like those who left.

# %%
propensity = wb.churn_propensity(events, cutoff=cutoff, customers=customers)
print(f"holdout AUC {propensity.auc:.3f}")
propensity.plot()

# %%
risk = propensity.score(events, as_of=sample.as_of, customers=customers)
risk.sort("churn_probability", descending=True).head(10)

# %% [markdown]
# ## Explore, and keep count of what you tested
# The explorer recomputes `wb.departed_patterns` for another cut-off, horizon or population.
# In the hypothesis panel, pick a feature and a segment and press *Test and record*: every
# comparison goes into a log whose adjusted p-values are Benjamini-Hochberg over **all**
# hypotheses tried so far, so fishing through many comparisons does not produce false
# discoveries unnoticed. *Export CSV* saves the log.

# %%
explorer = wb.explore.LeavingExplorer(
    events,
    customers=customers,
    subscriptions=sample.subscriptions,
    annotations=sample.annotations,
    cutoff=cutoff,
)
explorer

# %% [markdown]
# The same from code: three hypotheses, adjusted over all three.

# %%
explorer.test_hypothesis("support_contacts")
explorer.test_hypothesis("days_since_last_purchase", segment=("plan", "basic"))
explorer.test_hypothesis("country", segment=("channel", "social"))
explorer.log.table.select(
    "hypothesis", "feature", "segment", "effect_size", "p_value", "p_adjusted", "significant"
)
