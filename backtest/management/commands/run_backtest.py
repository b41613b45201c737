"""Run a backtest on the bars in the database and print the result.

    python manage.py run_backtest --strategy sma_cross --symbol GOOG --start 2004-08-19 --end 2013-03-01 \
        --cash 10000 --commission 0.002 --params '{"fast": 10, "slow": 20}' --json
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.management import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from backtest.services import RunSpec, backtest_compute, run_spec_validate


class Command(BaseCommand):
    help = "Run a strategy over stored bars; --json prints {metrics, trades, equity_curve}."

    def add_arguments(self, parser):
        parser.add_argument("--strategy", required=True)
        parser.add_argument("--symbol", action="append",
                            help="repeat or comma-separate for a universe (default: the strategy's default universe)")
        parser.add_argument("--start", required=True, type=date.fromisoformat)
        parser.add_argument("--end", required=True, type=date.fromisoformat)
        parser.add_argument("--cash", default="10000")
        parser.add_argument("--commission", default="0", help="fraction of notional, e.g. 0.002")
        parser.add_argument("--slippage-bps", default="0")
        parser.add_argument("--risk-free-rate", default=None,
                            help="annual rate for Sharpe/Sortino/alpha, e.g. 0.04 (default BACKTEST_RISK_FREE_RATE, 0)")
        parser.add_argument("--params", default="{}", help="JSON object of strategy parameters")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--plot", default=None, help="write the equity curve with drawdown to this PNG")

    def handle(self, *args, **opts):
        try:
            params = json.loads(opts["params"])
            cash, commission, slippage = (Decimal(opts[k]) for k in ("cash", "commission", "slippage_bps"))
            risk_free_rate = None if opts["risk_free_rate"] is None else Decimal(opts["risk_free_rate"])
        except (json.JSONDecodeError, InvalidOperation) as exc:
            raise CommandError(f"Bad --params/--cash/--commission/--risk-free-rate: {exc}") from None
        symbols = [s for arg in opts["symbol"] for s in arg.split(",") if s.strip()] if opts["symbol"] else None
        try:
            spec = run_spec_validate(RunSpec(opts["strategy"], params, symbols, opts["start"], opts["end"], cash,
                                             commission, slippage, risk_free_rate))
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.detail.items())) from None
        result = backtest_compute(spec, progress=None if opts["json"] else self._progress)
        data = result.to_dict()
        if opts["plot"]:
            from backtest.plot import plot_equity

            plot_equity(result, opts["plot"])
        if opts["json"]:
            self.stdout.write(json.dumps({"metrics": data["metrics"], "trades": data["trades"],
                                          "open_trades": data["open_trades"], "equity_curve": data["equity_curve"]}))
            return
        sys.stderr.write("\n")
        self._summary(data, opts["plot"])

    def _progress(self, fraction: float) -> None:
        width = 40
        done = int(fraction * width)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {fraction:6.1%}")
        sys.stderr.flush()

    def _summary(self, data: dict, plot: str | None) -> None:
        m = data["metrics"]

        def pct(v):
            return "n/a" if v is None else f"{v:.2%}"

        def num(v):
            return "n/a" if v is None else f"{v:.2f}"

        lines = [
            f"{data['strategy_id']} {data['params']} on {', '.join(data['symbols'])} {data['start']} -> {data['end']}",
            f"  final equity   {m['final_equity']:,.2f} (from {data['initial_capital']:,.2f})",
            f"  total return   {pct(m['total_return'])}   CAGR {pct(m['cagr'])}   volatility {pct(m['annual_volatility'])}",
            f"  Sharpe {num(m['sharpe'])}   Sortino {num(m['sortino'])}   Calmar {num(m['calmar'])}"
            f"   (risk-free rate {pct(m['risk_free_rate'])})",
            f"  max drawdown   {pct(m['max_dd'])} over {m['max_dd_duration_days']} days",
            f"  trades {m['n_trades']}   win rate {pct(m['win_rate'])}   profit factor {num(m['profit_factor'])}"
            f"   expectancy {num(m['expectancy'])}",
            f"  exposure {pct(m['exposure_time'])}   alpha {pct(m['alpha'])}   beta {num(m['beta'])}",
            f"  open trades at the end: {len(data['open_trades'])}",
        ]
        if plot:
            lines.append(f"  equity curve written to {plot}")
        self.stdout.write("\n".join(lines))
