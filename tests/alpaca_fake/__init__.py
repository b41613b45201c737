"""A local fake of Alpaca's trading and market-data APIs for the tests (no part of the product).

``alpaca_fake`` is a pytest fixture: import it into a test module (``from tests.alpaca_fake import
alpaca_fake``) to get a started :class:`FakeAlpaca`; ``alpaca_settings`` also points AlphaLoop's
``ALPACA_*`` settings at it.
"""

from __future__ import annotations

import pytest

from tests.alpaca_fake.server import FakeAlpaca, wait_until

__all__ = ["FakeAlpaca", "alpaca_fake", "alpaca_settings", "wait_until"]


@pytest.fixture
def alpaca_fake():
    with FakeAlpaca() as fake:
        yield fake


@pytest.fixture
def alpaca_settings(settings, alpaca_fake):
    """AlphaLoop's ALPACA_* settings pointed at the fake (the keys are the fake's test keys)."""
    for name, value in alpaca_fake.settings().items():
        setattr(settings, name, value)
    return alpaca_fake
