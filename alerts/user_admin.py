"""User administration with least privilege: supervisors manage operator accounts, nothing else.

Supervisors hold `auth.add_user`/`auth.change_user` (migration 0002) so that they can create operators,
deactivate them and reset their passwords. Django's stock UserAdmin would let that permission set
`is_superuser`, `is_staff`, user permissions and any group on any account, the supervisor's own
included, and replace a superuser's password. Here a user who is not a superuser:

- sees and edits only operator accounts: not superusers, not supervisors (themselves included), not
  an account in any group but operators or with permissions of its own (`manageable_users`);
- edits only username, names, email, active and the operators group; `is_staff` follows the group
  (operators use the admin), `is_superuser` and user permissions are never in the form;
- resets passwords of those accounts only (anything else is a 404, as if it did not exist);
- gets every account created made an operator.

Superusers keep Django's full UserAdmin. Either can unlock accounts locked by django-axes.
"""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q

from .services import OPERATORS, SUPERVISORS

User = get_user_model()

SUPERVISOR_FIELDSETS = (
    (None, {"fields": ("username", "password")}),
    ("Personal info", {"fields": ("first_name", "last_name", "email")}),
    ("Operator", {"fields": ("is_active", "groups"),
                  "description": "Untick “active” to deactivate the operator; the operators group lets them "
                                 "see and handle alerts."}),
)


def manageable_users(user):
    """The accounts `user` may see and change: every account for a superuser, operators otherwise."""
    qs = User.objects.all()
    if user.is_superuser:
        return qs
    others = Group.objects.exclude(name=OPERATORS)
    return (
        qs.filter(is_superuser=False)
        .exclude(pk=user.pk)
        .exclude(groups__in=others)
        .exclude(user_permissions__isnull=False)
        .exclude(Q(groups__name=SUPERVISORS))
        .distinct()
    )


class OperatorUserAdmin(UserAdmin):
    actions = ["unlock"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=manageable_users(request.user).values("pk"))

    def _manages(self, request, obj) -> bool:
        return obj is None or request.user.is_superuser or manageable_users(request.user).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._manages(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._manages(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return SUPERVISOR_FIELDSETS

    def get_list_filter(self, request):
        return super().get_list_filter(request) if request.user.is_superuser else ("is_active",)

    def get_list_display(self, request):
        if request.user.is_superuser:
            return super().get_list_display(request)
        return ("username", "email", "first_name", "last_name", "is_active", "last_login")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name=OPERATORS)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            # Whatever was posted: an account a supervisor saves is never more than an operator.
            obj.is_superuser = False
            obj.is_staff = True
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not request.user.is_superuser:
            user = form.instance
            if not change:
                user.groups.add(Group.objects.get(name=OPERATORS))
            user.groups.remove(*Group.objects.exclude(name=OPERATORS))
            user.user_permissions.clear()

    @admin.action(description="Unlock the selected accounts (login lockout)", permissions=["change"])
    def unlock(self, request, queryset):
        names = list(queryset.values_list("username", flat=True))
        for name in names:
            axes_reset(username=name)
        self.message_user(request, f"{len(names)} account(s) unlocked: {', '.join(names[:20])}", messages.SUCCESS)


admin.site.unregister(User)
admin.site.register(User, OperatorUserAdmin)
