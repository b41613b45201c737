"""The built-in vocabulary of emotion states and mistake tags (owned by no user)."""

from django.db import migrations

EMOTIONS = {
    "calm": "Followed the process without pressure",
    "anxious": "Worried about the position while in it",
    "revenge": "Trading to win back an earlier loss",
    "fomo": "Afraid of missing the move",
    "greedy": "Wanted more than the plan offered",
    "confident": "Sure of the setup, sized as planned",
    "fearful": "Afraid to take or hold the trade",
}
MISTAKES = {
    "sell_fly": "Sold too early and the move continued",
    "chase_high": "Bought after an extended run-up",
    "no_stop": "Traded without a stop loss",
    "oversize": "Position larger than the plan or the risk rules",
    "early_exit": "Exited before the stop or the target",
    "late_entry": "Entered well after the planned entry",
    "ignored_plan": "Did not follow the trading plan",
    "revenge_trade": "A trade taken to recover a loss",
}


def create_builtins(apps, schema_editor):
    JournalTag = apps.get_model("journal", "JournalTag")
    for kind, names in (("emotion", EMOTIONS), ("mistake", MISTAKES)):
        for name, description in names.items():
            JournalTag.objects.get_or_create(user=None, kind=kind, name=name, defaults={"description": description})


def delete_builtins(apps, schema_editor):
    JournalTag = apps.get_model("journal", "JournalTag")
    for kind, names in (("emotion", EMOTIONS), ("mistake", MISTAKES)):
        JournalTag.objects.filter(user=None, kind=kind, name__in=list(names)).delete()


class Migration(migrations.Migration):
    dependencies = [("journal", "0001_initial")]

    operations = [migrations.RunPython(create_builtins, delete_builtins)]
