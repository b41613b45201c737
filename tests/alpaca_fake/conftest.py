import pytest

from tests.alpaca_fake import FakeAlpaca


@pytest.fixture
def alpaca_fake():
    with FakeAlpaca() as fake:
        yield fake
