from django.apps import AppConfig


class AlphaloopConfig(AppConfig):
    name = "alphaloop"
    verbose_name = "AlphaLoop core"

    def ready(self) -> None:
        from alphaloop import auth  # noqa: F401  (login audit receivers)
