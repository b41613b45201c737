from django.apps import AppConfig


class FactorsConfig(AppConfig):
    name = "factors"
    verbose_name = "Factors & signals"

    def ready(self) -> None:
        # Load the factor library: each module registers its factors on import.
        from factors import fundamental, mean_reversion, momentum, volume  # noqa: F401
