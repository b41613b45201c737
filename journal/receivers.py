"""Signal receivers connected in ``JournalConfig.ready``."""

from __future__ import annotations


def on_trade_closed(sender, attribution, live: bool = True, **kwargs) -> None:
    """``equity.signals.trade_closed``: draft a journal entry for the closed trade (same transaction).

    Only a trade closed live notifies the user; a rebuild drafts silently.
    """
    from journal.services import journal_draft_from_attribution

    journal_draft_from_attribution(attribution=attribution, notify=live)
