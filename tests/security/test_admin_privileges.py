"""Finding 1: a supervisor manages operator accounts and nothing more, through the real admin.

Before the fix, `POST /admin/auth/user/<own id>/change/` with is_superuser=on made the supervisor a
superuser (302), and `POST /admin/auth/user/<superuser id>/password/` replaced the superuser's password.
"""

import pytest
from django.contrib.auth.models import Group, Permission

from alerts.services import operator_create

PASSWORD = "correct-horse-battery-42"
NEW_PASSWORD = "staple-lantern-orbit-77"

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor():
    return operator_create(username="sam", password=PASSWORD, supervisor=True)


@pytest.fixture
def other_supervisor():
    return operator_create(username="sue", password=PASSWORD, supervisor=True)


@pytest.fixture
def operator():
    return operator_create(username="olga", password=PASSWORD)


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def sam(client, supervisor):
    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302
    return client


def change_form(user, **overrides):
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "is_active": "on" if user.is_active else "",
            "groups": [str(g.pk) for g in user.groups.all()], "_save": "Save"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def password_form(password=NEW_PASSWORD):
    return {"password1": password, "password2": password, "usable_password": "true"}


def refused(response) -> bool:
    """403/404, or the admin's "does not exist" redirect to its index (a save goes to the user list)."""
    if response.status_code == 302:
        return response["Location"] == "/admin/"
    return response.status_code in (403, 404)


def fresh(user):
    user.refresh_from_db()
    return user


# -- refused ----------------------------------------------------------------------------------------

def test_supervisor_cannot_make_itself_superuser(sam, supervisor):
    url = f"/admin/auth/user/{supervisor.pk}/change/"
    response = sam.post(url, change_form(supervisor, is_superuser="on", is_staff="on"))
    assert refused(response)
    assert refused(sam.get(url))
    user = fresh(supervisor)
    assert not user.is_superuser and user.user_permissions.count() == 0


def test_supervisor_cannot_set_a_superusers_password(sam, root):
    response = sam.post(f"/admin/auth/user/{root.pk}/password/", password_form())
    assert refused(response)
    assert refused(sam.get(f"/admin/auth/user/{root.pk}/password/"))
    assert fresh(root).check_password(PASSWORD)


def test_supervisor_cannot_edit_a_superuser(sam, root):
    response = sam.post(f"/admin/auth/user/{root.pk}/change/", change_form(root, is_active=""))
    assert refused(response)
    assert fresh(root).is_active


def test_supervisor_cannot_edit_or_reset_another_supervisor(sam, other_supervisor):
    assert refused(sam.get(f"/admin/auth/user/{other_supervisor.pk}/change/"))
    response = sam.post(f"/admin/auth/user/{other_supervisor.pk}/change/", change_form(other_supervisor, is_active=""))
    assert refused(response)
    response = sam.post(f"/admin/auth/user/{other_supervisor.pk}/password/", password_form())
    assert refused(response)
    user = fresh(other_supervisor)
    assert user.is_active and user.check_password(PASSWORD)


def test_supervisor_cannot_reset_its_own_password_through_user_admin(sam, supervisor):
    response = sam.post(f"/admin/auth/user/{supervisor.pk}/password/", password_form())
    assert refused(response)
    assert fresh(supervisor).check_password(PASSWORD)


def test_user_list_shows_operators_only(sam, operator, other_supervisor, root):
    page = sam.get("/admin/auth/user/").content.decode()
    assert "olga" in page
    assert f"/admin/auth/user/{root.pk}/change/" not in page
    assert f"/admin/auth/user/{other_supervisor.pk}/change/" not in page
    assert "is_superuser" not in page


def test_operator_form_has_no_superuser_staff_or_permission_fields(sam, operator):
    page = sam.get(f"/admin/auth/user/{operator.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("is_superuser", "is_staff", "user_permissions"):
        assert f'name="{field}"' not in html
    supervisors = Group.objects.get(name="supervisors")
    assert f'value="{supervisors.pk}"' not in html  # only the operators group is offered


def test_posted_superuser_staff_permissions_and_supervisors_group_are_ignored(sam, operator):
    supervisors = Group.objects.get(name="supervisors")
    operators = Group.objects.get(name="operators")
    perm = Permission.objects.get(codename="delete_user")
    response = sam.post(f"/admin/auth/user/{operator.pk}/change/", change_form(
        operator, is_superuser="on", user_permissions=[str(perm.pk)], groups=[str(operators.pk), str(supervisors.pk)]))
    # The supervisors group is not a choice: the form is refused (200 with an error), nothing saved.
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    response = sam.post(f"/admin/auth/user/{operator.pk}/change/", change_form(
        operator, is_superuser="on", user_permissions=[str(perm.pk)], groups=[str(supervisors.pk)]))
    assert response.status_code == 200
    user = fresh(operator)
    assert not user.is_superuser and user.user_permissions.count() == 0
    assert list(user.groups.values_list("name", flat=True)) == ["operators"]


def test_an_account_in_another_group_or_with_its_own_permissions_is_out_of_reach(sam, operator, django_user_model):
    special = django_user_model.objects.create_user("auditor", password=PASSWORD, is_staff=True)
    special.user_permissions.add(Permission.objects.get(codename="view_logentry"))
    other = Group.objects.create(name="dispatchers")
    operator.groups.add(other)
    for user in (special, operator):
        assert refused(sam.get(f"/admin/auth/user/{user.pk}/change/"))
        assert refused(sam.post(f"/admin/auth/user/{user.pk}/password/", password_form()))
        assert fresh(user).check_password(PASSWORD)


def test_supervisor_cannot_delete_users(sam, operator):
    assert sam.post(f"/admin/auth/user/{operator.pk}/delete/", {"post": "yes"}).status_code == 403
    assert fresh(operator).is_active


# -- allowed ----------------------------------------------------------------------------------------

def test_supervisor_creates_an_operator(sam, django_user_model):
    response = sam.post("/admin/auth/user/add/", {"username": "otto", "password1": NEW_PASSWORD,
                                                   "password2": NEW_PASSWORD, "usable_password": "true",
                                                   "is_superuser": "on", "_save": "Save"})
    assert response.status_code == 302
    otto = django_user_model.objects.get(username="otto")
    assert otto.is_staff and not otto.is_superuser
    assert list(otto.groups.values_list("name", flat=True)) == ["operators"]
    assert otto.has_perm("alerts.view_alert")


def test_supervisor_deactivates_an_operator(sam, operator):
    response = sam.post(f"/admin/auth/user/{operator.pk}/change/", change_form(operator, is_active=""))
    assert response.status_code == 302
    assert not fresh(operator).is_active


def test_supervisor_resets_an_operators_password(sam, operator):
    response = sam.post(f"/admin/auth/user/{operator.pk}/password/", password_form())
    assert response.status_code == 302
    assert fresh(operator).check_password(NEW_PASSWORD)


def test_supervisor_puts_an_account_in_the_operators_group(sam, django_user_model):
    user = django_user_model.objects.create_user("newbie", password=PASSWORD)
    operators = Group.objects.get(name="operators")
    response = sam.post(f"/admin/auth/user/{user.pk}/change/", change_form(user, groups=[str(operators.pk)]))
    assert response.status_code == 302
    user = fresh(user)
    assert list(user.groups.values_list("name", flat=True)) == ["operators"] and user.is_staff


def test_superuser_keeps_the_full_user_admin(client, root, supervisor):
    assert client.post("/accounts/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    page = client.get(f"/admin/auth/user/{supervisor.pk}/change/")
    assert page.status_code == 200 and b'name="is_superuser"' in page.content
    response = client.post(f"/admin/auth/user/{supervisor.pk}/password/", password_form())
    assert response.status_code == 302 and fresh(supervisor).check_password(NEW_PASSWORD)
