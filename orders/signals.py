"""Signals other apps subscribe to (equity builds FIFO attribution and journal drafts from fills)."""

from django.dispatch import Signal

# Sent once per fill, after the transaction that recorded it has committed. Kwargs: ``fill``.
fill_recorded = Signal()
