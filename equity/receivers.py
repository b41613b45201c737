"""Signal receivers connected in ``EquityConfig.ready``."""

from __future__ import annotations


def on_fill_recorded(sender, fill, **kwargs) -> None:
    """``orders.signals.fill_recorded`` (sent on commit, robustly): match the fill FIFO in a task.

    The attribution is derived data: if it ever fails, ``fifo_rebuild`` restores it.
    """
    from equity.tasks import attribution_record_fill

    attribution_record_fill.delay(fill.pk)
