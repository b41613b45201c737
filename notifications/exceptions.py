"""The one error a notification transport raises."""

from __future__ import annotations


class TransportError(Exception):
    """A delivery attempt failed.

    ``permanent`` says whether trying again could help: a bad bot token or a user without an
    e-mail address is permanent, a timeout or a 5xx answer is not.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"{self.message} ({kind})"
