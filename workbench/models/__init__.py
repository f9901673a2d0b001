"""Statistical models with a lifelines-style interface: fit(...) -> self, params_, summary."""

__all__: list[str] = []
