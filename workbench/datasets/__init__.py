"""Sample data with known truth, and vendored real data (CDNOW, donations)."""
