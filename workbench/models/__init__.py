"""Statistical models with a lifelines-style interface: fit(...) -> self, params_, summary."""

from .bgnbd import BetaGeoNBD, ModifiedBetaGeoNBD, simulate_bgnbd

__all__: list[str] = [
    "BetaGeoNBD",
    "ModifiedBetaGeoNBD",
    "simulate_bgnbd",
]
