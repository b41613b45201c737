"""Usernames are unique in any case (alphaloop/usernames.py).

SQLite compares text case-sensitively, so it gets a unique index on LOWER(username). MariaDB/MySQL
need nothing: auth_user.username has the database's utf8mb4 collation, which is case-insensitive
(utf8mb4_general_ci, utf8mb4_unicode_ci or MySQL's utf8mb4_0900_ai_ci), so its unique key already
refuses "Bob" next to "bob".
"""

from django.db import migrations

INDEX = "auth_user_username_any_case_uniq"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT LOWER(username) FROM auth_user GROUP BY LOWER(username) HAVING COUNT(*) > 1")
        clashes = [row[0] for row in cursor.fetchall()]
    if clashes:
        raise RuntimeError(f"Usernames that differ only in case: {', '.join(clashes)}. Rename all but one of each "
                           "(Django admin, Users) and migrate again.")
    schema_editor.execute(f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(username))")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("alphaloop", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
