"""A local fake of Alpaca's trading and market-data APIs for the tests (no part of the product).

``FakeAlpaca().start()`` (or ``with FakeAlpaca() as fake``) serves it on a free loopback port;
``fake.settings()`` gives the ALPACA_* settings that point AlphaLoop at it.
"""

from tests.alpaca_fake.server import FakeAlpaca

__all__ = ["FakeAlpaca"]
