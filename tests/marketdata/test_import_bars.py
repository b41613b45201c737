import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from marketdata.models import Bar, Instrument
from marketdata.services import ImportErrorReport, bars_import_csv

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2013-02-28,801.10,806.99,801.03,801.20,400.60,2265800
2013-03-01,797.80,807.14,796.15,806.19,403.10,2175400
"""


@pytest.mark.django_db
def test_imports_the_yahoo_layout_with_adj_close():
    result = bars_import_csv(source=io.StringIO(YAHOO), symbol="goog")
    assert (result.symbol, result.created, result.updated) == ("GOOG", 2, 0)
    bar = Bar.objects.get(instrument__symbol="GOOG", date=date(2013, 3, 1))
    assert (bar.open, bar.high, bar.low, bar.close, bar.adj_close, bar.volume) == (
        Decimal("797.8"), Decimal("807.14"), Decimal("796.15"), Decimal("806.19"), Decimal("403.1"), 2175400)


@pytest.mark.django_db
def test_any_column_order_and_header_case():
    text = "volume,CLOSE,low,High,open,DATE\n1000,10.5,9.5,11,10,2024-01-02\n"
    bars_import_csv(source=io.StringIO(text), symbol="ABC")
    bar = Bar.objects.get()
    assert (bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        date(2024, 1, 2), Decimal("10"), Decimal("11"), Decimal("9.5"), Decimal("10.5"), 1000)


@pytest.mark.django_db
def test_reimport_upserts_instead_of_duplicating():
    bars_import_csv(source=io.StringIO(YAHOO), symbol="GOOG")
    changed = YAHOO.replace("806.19", "806.50")
    result = bars_import_csv(source=io.StringIO(changed), symbol="GOOG")
    assert (result.created, result.updated) == (0, 2)
    assert Bar.objects.count() == 2
    assert Bar.objects.get(date=date(2013, 3, 1)).close == Decimal("806.5")


@pytest.mark.django_db
def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_imported():
    text = (
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,10,11,9,10.5,100\n"
        "2024-01-03,abc,11,9,10.5,100\n"
        "2024-01-04,10,9,9.5,10.5,100\n"
        "not-a-date,10,11,9,10.5,100\n"
    )
    with pytest.raises(ImportErrorReport) as report:
        bars_import_csv(source=io.StringIO(text), symbol="XYZ")
    assert [e.split(":")[0] for e in report.value.errors] == ["line 3", "line 4", "line 5"]
    assert "open is not a number" in report.value.errors[0]
    assert not Bar.objects.exists() and not Instrument.objects.exists()


@pytest.mark.django_db
def test_missing_columns_are_named():
    with pytest.raises(ImportErrorReport, match="missing column"):
        bars_import_csv(source=io.StringIO("Date,Open,Close\n2024-01-02,1,2\n"), symbol="XYZ")


@pytest.mark.django_db
def test_import_bars_command(tmp_path, capsys):
    path = tmp_path / "goog.csv"
    path.write_text(YAHOO)
    call_command("import_bars", str(path), "--symbol", "GOOG")
    assert "2 new, 0 updated" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,x,10\n")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_bars", str(bad), "--symbol", "BAD")
    assert "line 2: close is not a number" in capsys.readouterr().err
