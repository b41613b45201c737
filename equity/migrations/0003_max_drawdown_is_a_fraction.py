"""``max_drawdown_pct`` holds a fraction, so the field is ``max_drawdown``; the spec's column keeps its name."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("equity", "0002_alter_tradepnlattribution_options")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField("equitysnapshot", "max_drawdown_pct", "max_drawdown"),
                migrations.AlterField(
                    "equitysnapshot",
                    "max_drawdown",
                    models.DecimalField(
                        blank=True, db_column="max_drawdown_pct", decimal_places=6, max_digits=10, null=True
                    ),
                ),
            ],
            database_operations=[],
        )
    ]
