"""The live map's ES modules (static/transit/map/, static/alerts/) as the browser gets them: served as
JavaScript, every relative import naming a file that is there, also after `collectstatic` with
hashed names. The browser resolves an import against the importing file's URL; Django rewrites the
imports to the hashed names when a ManifestStaticFilesStorage has `support_js_module_import_aggregation
= True` (the storage to use if production ever hashes its static files; today STORAGES is Django's
default, which keeps the names)."""

import json
import posixpath
import re

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command
from django.test import override_settings

IMPORT = re.compile(
    r"""^(?:import\s+(?:[\w*{}\s,]+\s+from\s+)?|export\s+[\w*{}\s,]+\s+from\s+)["']([^"']+)["']""", re.M
)
ENTRIES = ("transit/map/main.js", "alerts/ops.js")


class ModuleManifestStorage(ManifestStaticFilesStorage):
    support_js_module_import_aggregation = True


def test_hashed_modules_import_hashed_modules_that_exist(tmp_path):
    storage = {"BACKEND": f"{__name__}.ModuleManifestStorage"}
    with override_settings(STATIC_ROOT=str(tmp_path), STORAGES={"staticfiles": storage}):
        call_command("collectstatic", "--no-input", verbosity=0)
    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    hashed_names = set(paths.values())
    todo, seen = [paths[name] for name in ENTRIES], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = (tmp_path / name).read_text()
        for spec in IMPORT.findall(source):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), spec))
            assert target in hashed_names, f"{name} imports {spec}, which is not a hashed name"
            assert (tmp_path / target).is_file()
            todo.append(target)
    assert any(name.startswith("transit/map/vehicles.") for name in seen)
    assert any(name.startswith("alerts/alerts.") for name in seen)
    assert len(seen) >= 14


def test_the_map_modules_and_everything_they_import_are_served_as_javascript(client):
    """The browser resolves the modules' relative imports against their static URLs: each must be
    served, with a JavaScript type (browsers refuse modules served as anything else)."""
    todo, seen = ["/static/transit/map/main.js", "/static/alerts/ops.js"], set()
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/javascript"), (url, response["Content-Type"])
        source = b"".join(response.streaming_content).decode()
        for spec in IMPORT.findall(source):
            assert spec.startswith("."), f"{url} imports {spec!r}: only relative imports resolve under STATIC_URL"
            todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(url), spec)))
    assert "/static/transit/map/vehicles.js" in seen and "/static/alerts/alerts.js" in seen
    assert len(seen) >= 14
