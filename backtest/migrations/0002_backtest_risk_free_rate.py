from django.conf import settings
from django.db import migrations, models


def record_the_rate_earlier_runs_used(apps, schema_editor):
    """Runs before this field were measured against the options rate, RISK_FREE_RATE: record it."""
    BacktestRun = apps.get_model("backtest", "BacktestRun")
    BacktestRun.objects.update(risk_free_rate=settings.RISK_FREE_RATE)


class Migration(migrations.Migration):

    dependencies = [
        ('backtest', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='backtestrun',
            name='risk_free_rate',
            field=models.DecimalField(decimal_places=6, default=0, help_text='Annual risk-free rate the Sharpe, Sortino and alpha were measured against', max_digits=8),
        ),
        migrations.RunPython(record_the_rate_earlier_runs_used, migrations.RunPython.noop),
    ]
