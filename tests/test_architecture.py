"""The layout's rules, checked on the source (an import-linter of our own).

* events/ is pure: it imports nothing of the request side, the recording
  side, delivery or Django's request/response machinery;
* delivery/ never imports tracking/ (the sender knows nothing of requests);
* decisions/widgets.py and attribution.py are pure (recorded answers in,
  widgets out);
* outbox.py is the only module that changes an event's status.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dengage_django"


def modules(folder=""):
    root = PACKAGE / folder
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def imported(path):
    """Absolute module names ``path`` imports (relative ones resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def offending(folder, forbidden):
    found = {}
    for path in modules(folder):
        bad = sorted(n for n in imported(path) if n.startswith(forbidden))
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    return found


#: What pure code (events/, reading answers and links) never imports.
IMPURE = (
    "dengage_django.tracking",
    "dengage_django.recording",
    "dengage_django.delivery",
    "dengage_django.middleware",
    "dengage_django.outbox",
    "dengage_django.models",
)


def test_events_are_pure():
    assert offending("events", (*IMPURE, "django.http", "django.test", "django.db")) == {}


def test_events_take_no_request():
    for path in modules("events"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                arguments = [a.arg for a in node.args.args + node.args.kwonlyargs]
                assert "request" not in arguments, f"{path.name}: {node.name}"


def test_reading_answers_and_links_is_pure():
    # decisions/ also holds the live send (outbox, client); what reads an
    # answer or a link stays pure, so it can be tested on recorded answers.
    for name in ("widgets.py", "attribution.py"):
        path = PACKAGE / "decisions" / name
        assert not [n for n in imported(path) if n.startswith((*IMPURE, "django"))], name


def test_delivery_never_imports_the_request_side():
    assert offending("delivery", ("dengage_django.tracking", "dengage_django.recording")) == {}


WRITES = ("update", "bulk_update", "create", "bulk_create", "update_or_create", "get_or_create")


def _status_writes(path):
    """Lines where ``path`` may write an outbox status: a write call given
    ``status=``, ``**fields`` or a ``"status"`` field list, raw SQL naming the
    outbox table, or ``x.status = Status...``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in WRITES and (
                any(keyword.arg in ("status", None) for keyword in node.keywords)
                or "'status'" in ast.unparse(node)
            ):
                lines.append(node.lineno)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "dengage_django_outboxevent" in node.value.lower():
                lines.append(node.lineno)
        if isinstance(node, ast.Assign) and "Status." in ast.unparse(node.value):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    lines.append(node.lineno)
    return lines


def test_only_the_outbox_changes_an_events_status():
    writers = {
        str(path.relative_to(PACKAGE)): lines
        for path in modules()
        if (lines := _status_writes(path)) and path.name != "outbox.py"
    }
    assert writers == {}
    assert _status_writes(PACKAGE / "outbox.py")  # the rule's subject exists


def test_only_the_outbox_picks_the_outbox_database():
    users = [
        str(path.relative_to(PACKAGE))
        for path in modules()
        if ".objects.using(" in path.read_text() and path.name != "outbox.py"
    ]
    assert users == []


@pytest.mark.parametrize(
    "path",
    [
        "dengage_django.middleware",
        "dengage_django.models",
        "dengage_django.admin",
        "dengage_django.apps",
        "dengage_django.checks",
        "dengage_django.conf",
        "dengage_django.exceptions",
        "dengage_django.signals",
        "dengage_django.templatetags.dengage",
        "dengage_django.testing",
        "dengage_django.tasks",
    ],
)
def test_public_import_paths_stay(path):
    import importlib

    try:
        assert importlib.import_module(path)
    except ImportError as exc:  # only tasks may need a package (a task framework)
        assert path == "dengage_django.tasks", exc
        pytest.skip(f"no task framework here: {exc}")


def test_the_facade():
    import dengage_django

    assert callable(dengage_django.track) and callable(dengage_django.register_model)
    assert callable(dengage_django.atrack) and callable(dengage_django.unregister_model)


def test_importing_the_package_warns_nothing():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import dengage_django, dengage_django.testing"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
