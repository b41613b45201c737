"""Signals the equity app sends.

``trade_closed(attribution=<TradePnlAttribution>, live=<bool>)`` is sent inside the
attribution transaction for every newly matched closed trade; the journal app
drafts an entry from it, so the draft commits (or rolls back) with the
attribution. ``live`` is True when a fill just closed the trade and False when a
rebuild (backfill) found it, so receivers can skip notifying the user.
"""

from django.dispatch import Signal

trade_closed = Signal()
