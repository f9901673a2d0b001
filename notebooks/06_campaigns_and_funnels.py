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
# # Campaigns and funnels: did it work, and where do customers drop?
#
# A win-back campaign works when the customers who received it came back more often than a
# randomly held-out **control group**: the lift is the difference in return rates, with an
# interval and a test. Before sending, the test plan tells how many customers each group
# needs. Funnels show where new customers drop between first visit and first purchase;
# activation compares customers who did a key action early with those who did not; channel
# quality tracks whether recent cohorts of a channel retain worse than before.
#
# **What to look for:** lifts whose interval excludes zero (and is large enough to pay for the
# offer); a segment where the campaign works much better (check the heterogeneity test before
# believing it); the funnel step with the largest drop; a channel flagged as deteriorating.

# %%
import plotly.io as pio

import workbench as wb

pio.renderers.default = "plotly_mimetype"  # figures render in JupyterLab
sample = wb.datasets.load_sample()
events, customers, campaigns = sample.events, sample.customers, sample.campaigns

# %% [markdown]
# ## Campaign effect

# %%
effect = wb.campaign_effect(events, campaigns, window="30d")
effect.plot()

# %%
effect.table.select(
    "campaign_id", "n_treatment", "n_control", "rate_treatment", "rate_control", "lift",
    "lift_ci_low", "lift_ci_high", "p_adjusted",
)

# %% [markdown]
# By offer, with the test of whether the lift differs between offers:

# %%
by_offer = wb.campaign_effect(events, campaigns, window="30d", by="offer")
by_offer.heterogeneity

# %% [markdown]
# ## Planning the next test
# Customers per group needed to detect a given absolute lift over a 12% baseline return rate
# (two-sided, 5% significance, 80% power).

# %%
wb.winback_test_plan(baseline_rate=0.12, mde=[0.02, 0.03, 0.05])

# %% [markdown]
# ## Funnel of the first visit

# %%
first_visit = wb.funnel(events, ["visit", "add_to_cart", "purchase"], window="7d")
first_visit.plot()

# %% [markdown]
# ## Activation and channel quality

# %%
activation = wb.activation_effect(events, actions=["onboarding_complete"], within="7d")
activation.plot()

# %%
quality = wb.channel_quality(events, customers=customers)
quality.plot()

# %% [markdown]
# ## Explore
# Change the return window, the outcome, the breakdown (offer, send channel, or a customer
# attribute) and the confidence level; each is an argument of `wb.campaign_effect`. Notes
# about small groups appear above the figure.

# %%
explorer = wb.explore.CampaignExplorer(events, campaigns, segments=customers)
explorer
