"""The journal app's subscribers on the spine, registered in ``JournalConfig.ready``."""

from __future__ import annotations

from alphaloop.events import TradeClosed


def on_trade_closed(event: TradeClosed) -> None:
    """Inside the attribution's transaction: draft a journal entry for the closed trade.

    Only a trade closed live notifies the user; a rebuild drafts silently.
    """
    from equity.models import TradePnlAttribution
    from journal.services import journal_draft_from_attribution

    attribution = TradePnlAttribution.objects.select_related("account").get(pk=event.attribution_id)
    journal_draft_from_attribution(attribution=attribution, notify=event.live)
