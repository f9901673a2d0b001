"""Run a retention matrix through one of the streaming passes and through the general engine."""

from __future__ import annotations

import workbench as wb
from workbench import cohorts_fast


def pass_and_general(monkeypatch, events, *, module, pass_name, gate, mode, **kw):
    """(result via `module.pass_name`, result of the general engine, whether the pass ran).

    The general engine is reached by closing the pass's gate (`module.gate`) and the sort
    kernels' (`cohorts_fast.applies`).
    """
    used = []
    real = getattr(module, pass_name)

    def spy(*args):
        got = real(*args)
        used.append(got is not None)
        return got

    with monkeypatch.context() as m:
        m.setattr(module, pass_name, spy)
        fast = wb.retention_matrix(events, mode=mode, **kw)
    with monkeypatch.context() as m:
        m.setattr(module, gate, lambda *a: False)
        m.setattr(cohorts_fast, "applies", lambda *a: False)
        general = wb.retention_matrix(events, mode=mode, **kw)
    return fast, general, any(used)
