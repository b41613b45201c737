"""``manage.py events``: the event spine's registry, who publishes what and who reacts (a Markdown table)."""

from django.core.management.base import BaseCommand

from alphaloop import bus


class Command(BaseCommand):
    help = "Print every domain event with its producers and its subscribers (name and phase)."

    def handle(self, *args, **options) -> None:
        self.stdout.write("| event | published by | subscribers (phase) |")
        self.stdout.write("|---|---|---|")
        for row in bus.registry():
            producers = ", ".join(f"`{name}`" for name in row["producers"])
            subscribers = ", ".join(f"`{name}` ({phase})" for name, phase in row["subscribers"])
            self.stdout.write(f"| `{row['event']}` | {producers} | {subscribers} |")
