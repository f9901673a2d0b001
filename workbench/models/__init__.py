"""Statistical models with a lifelines-style interface: fit(...) -> self, params_, summary."""

from .bgbb import BetaGeoBetaBinom
from .bgnbd import BetaGeoNBD, ModifiedBetaGeoNBD, simulate_bgnbd
from .gamma_gamma import GammaGamma, customer_lifetime_value
from .pareto import ParetoNBD

__all__: list[str] = [
    "BetaGeoBetaBinom",
    "BetaGeoNBD",
    "GammaGamma",
    "ModifiedBetaGeoNBD",
    "ParetoNBD",
    "customer_lifetime_value",
    "simulate_bgnbd",
]
