"""Interactive explorers (ipywidgets + plotly FigureWidgets), thin views over headless functions.

    import workbench as wb
    wb.explore.CohortExplorer(events, customers=customers)      # wb.retention_matrix
    wb.explore.SurvivalExplorer(events, customers=customers)    # wb.churn_table + churn_curves
    wb.explore.LeavingExplorer(events, customers=customers)     # wb.departed_patterns
    wb.explore.WinbackExplorer(events, customers=customers)     # wb.winback_targets
    wb.explore.CampaignExplorer(events, campaigns)              # wb.campaign_effect

Every explorer has ``.controls`` (name -> widget; the names are the headless function's
arguments), ``.arguments()`` (the keyword arguments it passes), ``.result`` (the last result),
``.figure`` (a plotly FigureWidget) and ``.widget`` (the box to display). The classes are
imported on first use, so ``import workbench`` does not load ipywidgets.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "CohortExplorer": "cohorts",
    "SurvivalExplorer": "survival",
    "LeavingExplorer": "leaving",
    "WinbackExplorer": "winback",
    "CampaignExplorer": "campaigns",
    "HypothesisLog": "hypotheses",
    "HYPOTHESIS_LOG_DEFINITION": "hypotheses",
    "Explorer": "base",
    "Debouncer": "base",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench.explore' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
