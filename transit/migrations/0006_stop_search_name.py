"""Stop.search_name: the stop's name as search compares it (accents stripped, case folded), filled
for the stops imported before it existed."""

from django.db import migrations, models


def fill(apps, schema_editor):
    from transit.names import search_key

    Stop = apps.get_model("transit", "Stop")
    batch = []
    for stop in Stop.objects.only("pk", "name").iterator(chunk_size=2000):
        stop.search_name = search_key(stop.name)
        batch.append(stop)
        if len(batch) >= 2000:
            Stop.objects.bulk_update(batch, ["search_name"])
            batch = []
    if batch:
        Stop.objects.bulk_update(batch, ["search_name"])


class Migration(migrations.Migration):

    dependencies = [
        ("transit", "0005_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="stop",
            name="search_name",
            field=models.CharField(
                blank=True, db_index=True, max_length=255,
                help_text="the name without accents, case folded (transit.names.search_key): what search compares"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
