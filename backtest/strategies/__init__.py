"""Strategy registry, filled by discovery: adding a strategy is adding one module here.

Every module of this package (other than ``base`` and private ``_`` ones) is
imported, and each ``Strategy`` subclass it defines with a non-empty ``id`` is
registered under that id.
"""

from __future__ import annotations

import importlib
import pkgutil

from backtest.strategies.base import STOCKS, ParamError, Strategy, param

__all__ = ["STOCKS", "STRATEGIES", "ParamError", "Strategy", "get_strategy", "param"]


def _discover() -> dict[str, type[Strategy]]:
    found: dict[str, type[Strategy]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Strategy)
                and value.__module__ == module.__name__
                and value.id
            ):
                if value.id in found:
                    raise ImportError(
                        f"strategy id {value.id!r} is defined twice: {found[value.id].__module__} and {module.__name__}"
                    )
                found[value.id] = value
    return dict(sorted(found.items()))


STRATEGIES: dict[str, type[Strategy]] = _discover()


def get_strategy(strategy_id: str) -> type[Strategy]:
    """The strategy class registered as ``strategy_id``; ``ParamError("strategy_id", ...)`` if none."""
    try:
        return STRATEGIES[strategy_id]
    except (KeyError, TypeError):
        raise ParamError(
            "strategy_id", f"unknown strategy {strategy_id!r}; available: {', '.join(STRATEGIES)}"
        ) from None
