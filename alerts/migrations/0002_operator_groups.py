"""The operators and supervisors groups and their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPERATOR_PERMS = [
    ("alerts", "alert", ["view", "change"]),
    ("alerts", "surgealert", ["view", "change"]),
    ("alerts", "breakdownalert", ["view", "change"]),
    ("alerts", "alertchange", ["view"]),
    ("alerts", "notification", ["view"]),
    ("transit", "vehiclestate", ["view"]),
]
SUPERVISOR_EXTRA = [("auth", "user", ["view", "add", "change"]), ("auth", "group", ["view"])]


def perms(apps, spec):
    Permission = apps.get_model("auth", "Permission")
    out = []
    for app_label, model, actions in spec:
        for action in actions:
            out.append(Permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}"))
    return out


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():  # permissions are normally created after migrate
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    operators, _ = Group.objects.get_or_create(name="operators")
    operators.permissions.set(perms(apps, OPERATOR_PERMS))
    supervisors, _ = Group.objects.get_or_create(name="supervisors")
    supervisors.permissions.set(perms(apps, OPERATOR_PERMS + SUPERVISOR_EXTRA))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["operators", "supervisors"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("transit", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
