"""Plotly output for reports that open offline: plotly.js embedded once, no MathJax, no CDN.

Plotly >= 6 picks its ``plotly_mimetype`` renderer inside a kernel, which nbconvert's HTML
export drops, so a report sets :func:`use_offline_renderer` explicitly. Figures are then
``text/html`` divs that call the ``Plotly`` global; the library itself is emitted once by
:func:`plotly_library_html` (the renderer's activation).
"""

from __future__ import annotations

import plotly.io as pio
from plotly.io._base_renderers import HtmlRenderer
from plotly.offline import get_plotlyjs

RENDERER_NAME = "workbench_offline"

# Marker on the <script> that carries plotly.js, so tests and readers can find the one copy.
LIBRARY_MARKER = "wb-plotlyjs"


def plotly_library_html() -> str:
    """The plotly.js bundle as one inline <script> (about 4.5 MB), plus plotly's window config."""
    return (
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
        f'<script type="text/javascript" id="{LIBRARY_MARKER}">{get_plotlyjs()}</script>'
    )


class OfflineRenderer(HtmlRenderer):
    """``text/html`` figures without MathJax and without plotly.js (loaded once elsewhere)."""

    def __init__(self, config: dict | None = None, height: int = 460):
        cfg = {"displaylogo": False, "responsive": True}
        cfg.update(config or {})
        super().__init__(
            connected=False, full_html=False, global_init=False, config=cfg, include_plotlyjs=False
        )
        self.height = height
        self.activated = False

    def activate(self):
        """Emit plotly.js into the current notebook output; later calls do nothing."""
        if self.activated:
            return
        from IPython.display import HTML, display

        display(HTML(plotly_library_html()))
        self.activated = True

    def to_mimebundle(self, fig_dict):
        return {"text/html": figure_html(fig_dict, config=self.config, height=self.height)}


def figure_html(fig, *, config: dict | None = None, height: int = 460) -> str:
    """One figure as a ``<div>`` plus the ``Plotly.newPlot`` call; needs plotly.js on the page."""
    cfg = {"displaylogo": False, "responsive": True}
    cfg.update(config or {})
    return pio.to_html(
        fig,
        config=cfg,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        default_width="100%",
        default_height=height,
        validate=False,
    )


def use_offline_renderer(*, emit_library: bool = True) -> None:
    """Make the offline renderer plotly's default and (once) emit plotly.js into the output."""
    renderer = OfflineRenderer()
    pio.renderers[RENDERER_NAME] = renderer
    pio.renderers.default = RENDERER_NAME  # queues an activation, which is idempotent
    if emit_library:
        renderer.activate()
