"""Plotly builders: tidy table (or result object) in, go.Figure out; no data logic here."""
