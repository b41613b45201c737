"""Signals other apps subscribe to (equity builds FIFO attribution and journal drafts from fills)."""

from django.dispatch import Signal

# Sent once per fill, after the transaction that recorded it has committed. Kwargs: ``fill``.
fill_recorded = Signal()

# Sent once per batch of executions booked from the broker's records (``orders.external_fills``), inside the
# transaction that booked them, after their fills. Kwargs: ``account``, ``symbols`` (sorted tickers) and
# ``since`` (the earliest execution time). Fills may be older than fills booked before them: receivers rebuild
# what they derive from fills for those symbols and that period.
fills_imported = Signal()
