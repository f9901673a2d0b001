"""Statistical models with a lifelines-style interface: fit(...) -> self, params_, summary."""

from .bgbb import BetaGeoBetaBinom
from .bgnbd import BetaGeoNBD, ModifiedBetaGeoNBD, simulate_bgnbd
from .gamma_gamma import GammaGamma, customer_lifetime_value
from .pareto import ParetoNBD
from .sbg import SBG_DEFINITION, SBGCohorts, ShiftedBetaGeometric, fit_sbg_cohorts

__all__: list[str] = [
    "BetaGeoBetaBinom",
    "BetaGeoNBD",
    "GammaGamma",
    "ModifiedBetaGeoNBD",
    "ParetoNBD",
    "SBG_DEFINITION",
    "SBGCohorts",
    "ShiftedBetaGeometric",
    "customer_lifetime_value",
    "fit_sbg_cohorts",
    "simulate_bgnbd",
]
