"""Sample data with known truth, and vendored real data (CDNOW, donations)."""

from .real import load_cdnow, load_donations
from .sample import SampleData, load_sample

__all__ = ["SampleData", "load_cdnow", "load_donations", "load_sample"]
