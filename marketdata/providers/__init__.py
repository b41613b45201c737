"""Market data from outside providers (Alpaca), written through the same upserts as the CSV imports."""
