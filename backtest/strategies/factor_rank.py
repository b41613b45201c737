"""Cross-sectional factor ranking: hold the top N of the composite score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.engine import Data
from backtest.strategies.base import STOCKS, Strategy, param


class FactorRank(Strategy):
    """Hold the ``top_n`` symbols by ``factors.scoring.composite_scores``, equal weight.

    The first rebalance is on the first bar (from ``start_bar``) with any score; then every
    ``rebalance_days`` bars. At a rebalance, holdings that left the top N are
    closed (sells before buys, so they fund the entries) and each new member of
    the top N is bought at ``1 / min(top_n, universe)`` of the equity (market
    orders, next open). A holding that stays in the top N is left alone unless
    its weight has drifted more than ``drift_band`` of its target away (with the
    default 0.25 and a 10 % target: outside 7.5-12.5 %); then it is moved back
    to the target. So every trade is a position-sized lot, not a top-up of a few
    shares. Symbols without a score (too little history or liquidity) are never
    bought; when fewer than N qualify, the rest stays in cash. Long only.
    """

    id = "factor_rank"
    description = (
        "Hold the top N symbols of the factor library's composite score, equal weight, rebalanced every K bars."
    )
    default_universe = STOCKS  # a ranking needs a cross-section

    @dataclass(frozen=True)
    class Params:
        top_n: int = param(10, minimum=1, description="Number of symbols to hold.")
        rebalance_days: int = param(21, minimum=1, description="Bars (sessions) between rebalances.")
        min_history: int = param(130, minimum=1, description="Bars a symbol needs before it is scored.")
        min_dollar_volume: float = param(
            1e6, minimum=0, description="Minimum average dollar volume for a symbol to be scored."
        )
        drift_band: float = param(
            0.25, minimum=0, maximum=1,
            description="A kept holding is resized only when its weight is off its target by more than this "
                        "fraction of the target (0: resize every rebalance).",
        )

    params: Params

    def init(self, data: Data) -> None:
        from factors import scoring

        p = self.params
        scores = scoring.composite_scores(
            data.panel(), min_history=p.min_history, min_dollar_volume=p.min_dollar_volume
        )
        scores = scores.reindex(index=data.index, columns=list(data.symbols)).to_numpy(dtype=float)
        rebalance = np.zeros(len(data.index), dtype=bool)
        scored = np.flatnonzero(~np.isnan(scores[self.start_bar :]).all(axis=1))
        if len(scored):
            rebalance[self.start_bar + int(scored[0]) :: p.rebalance_days] = True
        self.indicator("score", scores)
        self.indicator("rebalance", rebalance)
        self.wake_on(rebalance)
        self.weight = 1.0 / min(p.top_n, len(data.symbols))

    def on_bar(self, data: Data) -> None:
        if not data["rebalance"][-1]:
            return
        scores = data["score"][-1]
        valid = np.flatnonzero(~np.isnan(scores))
        # Highest score first; ties keep the universe order.
        ranked = valid[np.argsort(-scores[valid], kind="stable")][: self.params.top_n].tolist()
        keep = set(ranked)
        for col in range(len(data.symbols)):
            if col not in keep and self.position(col):
                self.close(col)
        equity, closes = self.equity, data.close[-1]
        for col in ranked:
            held = self.position(col)
            drift = abs(held * closes[col] / equity - self.weight) if held and equity > 0 else None
            if drift is None or drift > self.params.drift_band * self.weight:
                self.order_target_percent(col, self.weight)
