"""Run a backtest (or a walk-forward) on the bars in the database and print the result.

    python manage.py run_backtest --strategy sma_cross --symbol GOOG --start 2004-08-19 --end 2013-03-01 \
        --cash 10000 --commission 0.002 --params '{"fast": 10, "slow": 20}' --json
    python manage.py run_backtest --strategy sma_cross --symbol SPY --start 2020-01-02 --end 2025-12-31 \
        --walk-forward --grid '{"fast": [5, 10, 20], "slow": [50, 100]}' --train-days 252 --test-days 63
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.management import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from backtest.engine import MAX_SPREAD
from backtest.services import RunSpec, WalkForwardSpec, backtest_compute, run_spec_validate, walk_forward_compute
from backtest.walkforward import OBJECTIVES


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
        parser.add_argument("--spread", default="0",
                            help="bid-ask spread as a fraction of the price, e.g. 0.0005: half of it against each fill")
        parser.add_argument("--max-volume-fraction", default=None,
                            help="volume cap, e.g. 0.1: a symbol's fills on a bar add up to at most this fraction of "
                                 "its volume; the rest of a cut order is cancelled (default: no cap)")
        parser.add_argument("--risk-free-rate", default=None,
                            help="annual rate for Sharpe/Sortino/alpha, e.g. 0.04 (default BACKTEST_RISK_FREE_RATE, 0)")
        parser.add_argument("--params", default="{}", help="JSON object of strategy parameters")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--plot", default=None, help="write the equity curve with drawdown to this PNG")
        parser.add_argument("--tearsheet", default=None,
                            help="write the run's tearsheet (one self-contained HTML page) to this file")
        walk = parser.add_argument_group("walk-forward (optimise --grid on each train window, trade the winner next)")
        walk.add_argument("--walk-forward", action="store_true")
        walk.add_argument("--grid", default=None, help='JSON: parameter -> values, e.g. \'{"fast": [5, 10]}\'')
        walk.add_argument("--train-days", type=int, default=252, help="sessions per train window (252)")
        walk.add_argument("--test-days", type=int, default=63, help="sessions per test window (63)")
        walk.add_argument("--step-days", type=int, default=None, help="sessions between windows (default test days)")
        walk.add_argument("--anchored", action="store_true", help="train windows all start at --start")
        walk.add_argument("--objective", default="sharpe", choices=sorted(OBJECTIVES))

    def handle(self, *args, **opts):
        try:
            params = json.loads(opts["params"])
            cash, commission, slippage, spread = (Decimal(opts[k]) for k in ("cash", "commission", "slippage_bps", "spread"))
            risk_free_rate = None if opts["risk_free_rate"] is None else Decimal(opts["risk_free_rate"])
            cap = None if opts["max_volume_fraction"] is None else Decimal(opts["max_volume_fraction"])
        except (json.JSONDecodeError, InvalidOperation) as exc:
            raise CommandError(f"Bad --params/--cash/--commission/--spread/--max-volume-fraction/--risk-free-rate: "
                               f"{exc}") from None
        if not 0 <= spread <= Decimal(str(MAX_SPREAD)):
            raise CommandError(f"--spread is a fraction of the price, from 0 to {MAX_SPREAD}; got {spread}")
        if cap is not None and not 0 < cap <= 1:
            raise CommandError(f"--max-volume-fraction is a fraction of the bar's volume, above 0 and at most 1; got {cap}")
        symbols = [s for arg in opts["symbol"] for s in arg.split(",") if s.strip()] if opts["symbol"] else None
        spec = RunSpec(opts["strategy"], params, symbols, opts["start"], opts["end"], cash, commission, slippage,
                       risk_free_rate, spread=spread, max_volume_fraction=cap)
        if opts["walk_forward"]:
            self._walk_forward(spec, opts)
            return
        try:
            spec = run_spec_validate(spec)
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from None
        result = backtest_compute(spec, progress=None if opts["json"] else self._progress)
        data = result.to_dict()
        if opts["plot"]:
            from backtest.plot import plot_equity

            plot_equity(result, opts["plot"])
        if opts["tearsheet"]:
            from backtest.selectors import tearsheet_write

            tearsheet_write(spec, data, opts["tearsheet"])
        if opts["json"]:
            self.stdout.write(json.dumps({"metrics": data["metrics"], "trades": data["trades"],
                                          "open_trades": data["open_trades"], "equity_curve": data["equity_curve"],
                                          "volume_capped_orders": data["volume_capped_orders"]}))
            return
        sys.stderr.write("\n")
        self._summary(data, opts["plot"])
        if opts["tearsheet"]:
            self.stdout.write(f"  tearsheet written to {opts['tearsheet']}")

    def _walk_forward(self, spec: RunSpec, opts) -> None:
        if not opts["grid"]:
            raise CommandError("--walk-forward needs --grid")
        try:
            grid = json.loads(opts["grid"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"Bad --grid: {exc}") from None
        if not isinstance(grid, dict):
            raise CommandError('--grid is a JSON object: {"parameter": [values, ...]}')
        walk = WalkForwardSpec(run=spec, grid=grid, train_days=opts["train_days"], test_days=opts["test_days"],
                               step_days=opts["step_days"], anchored=opts["anchored"], objective=opts["objective"])
        try:
            data = walk_forward_compute(walk, progress=None if opts["json"] else self._progress)
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps(data))
            return
        sys.stderr.write("\n")
        m = data["metrics"]
        lines = [f"walk-forward of {data['strategy_id']} on {', '.join(data['symbols'])}: {len(data['windows'])} "
                 f"windows x {len(data['combinations'])} combinations, objective {data['objective']}"]
        for w in data["windows"]:
            oos = w["out_of_sample"]
            lines.append(f"  window {w['index'] + 1}: train {w['train_start']}..{w['train_end']}  test {w['test_start']}"
                         f"..{w['test_end']}  params {w['params']}  in-sample {_num(w['objective_in_sample'])}  "
                         f"out-of-sample {_num(w['objective_out_of_sample'])}  return {_pct(oos['total_return'])}")
        lines += [f"  stitched out of sample: final equity {m['final_equity']:,.2f}  return {_pct(m['total_return'])}  "
                  f"CAGR {_pct(m['cagr'])}  Sharpe {_num(m['sharpe'])}  max drawdown {_pct(m['max_dd'])}",
                  f"  walk-forward efficiency {_num(data['efficiency'])} (out-of-sample CAGR / mean in-sample CAGR "
                  f"{_pct(data['in_sample_mean_cagr'])}); {data['windows_profitable']} of {len(data['windows'])} "
                  "windows profitable"]
        if data["skipped"]:
            lines.append(f"  {len(data['skipped'])} combination(s) skipped: {data['skipped'][0]['reason']}")
        self.stdout.write("\n".join(lines))

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
        if data["volume_capped_orders"]:
            lines.append(f"  orders cut by the volume cap: {len(data['volume_capped_orders'])}, e.g. "
                         f"{data['volume_capped_orders'][0]['reason']}")
        if plot:
            lines.append(f"  equity curve written to {plot}")
        self.stdout.write("\n".join(lines))


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.detail.items())


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
