"""The optional send task, and enqueueing it when events are recorded."""

import importlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

import dengage_django
from dengage_django import signals
from dengage_django.models import OutboxEvent

ROOT = Path(__file__).resolve().parent.parent


def framework_or_skip():
    """The task framework's import name; skips without one."""
    try:
        importlib.import_module("django.tasks")
        return "django.tasks"
    except ImportError:
        pytest.importorskip("django_tasks", reason="needs Django 6.0+ or django-tasks")
        return "django_tasks"


@pytest.fixture
def tasks():
    name = framework_or_skip()
    # The reset of backends on a TASKS change lives in the framework's signals
    # module (imported by its app, which the test settings do not install).
    importlib.import_module(f"{name}.signals")
    from dengage_django import tasks

    assert tasks.FRAMEWORK == name
    tasks.throttle.reset()
    yield tasks
    tasks.throttle.reset()


def backend_settings(tasks, kind):
    path = f"{tasks.FRAMEWORK}.backends.{kind}"
    name = {"immediate": "ImmediateBackend", "dummy": "DummyBackend"}.get(kind, "")
    return {"default": {"BACKEND": f"{path}.{name}" if name else kind}}


@pytest.fixture
def enqueued(tasks):
    """Every ``send_outbox`` enqueued, in any thread."""
    found = []
    framework_signals = importlib.import_module(f"{tasks.FRAMEWORK}.signals")

    def receiver(sender, task_result, **kwargs):
        if task_result.task.func is tasks.send_outbox.func:
            found.append(task_result)

    framework_signals.task_enqueued.connect(receiver)
    yield found
    framework_signals.task_enqueued.disconnect(receiver)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def on_record(tasks, enqueued, settings, monkeypatch):
    """Enqueue-on-record wired to a dummy backend, with a clock the test moves."""
    settings.DENGAGE_TASK_ON_RECORD = True
    settings.DENGAGE_TASK_THROTTLE = 10.0
    clock = FakeClock()
    monkeypatch.setattr(tasks.throttle, "clock", clock)
    tasks.connect()
    with override_settings(TASKS=backend_settings(tasks, "dummy")):
        yield clock
    tasks.disconnect()


def record(n, **extra):
    for i in range(n):
        dengage_django.track("PAGE_VIEW", userId=f"u{i}", sessionId="s", **extra)


# -- the task ----------------------------------------------------------------


@pytest.mark.django_db
def test_enqueue_sends_the_outbox(tasks, fake_server):
    record(3)
    with override_settings(TASKS=backend_settings(tasks, "immediate")):
        result = tasks.send_outbox.enqueue()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == {
        "sent": 3,
        "retrying": 0,
        "dead": 0,
        "configuration_error": "",
    }
    assert sorted(event["userId"] for event in fake_server.events) == ["u0", "u1", "u2"]
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_enqueue_with_a_limit(tasks, fake_server):
    record(3)
    with override_settings(TASKS=backend_settings(tasks, "immediate")):
        result = tasks.send_outbox.enqueue(limit=2)
    assert result.return_value["sent"] == 2
    assert len(fake_server.events) == 2
    assert OutboxEvent.objects.filter(status="pending").count() == 1


@pytest.mark.django_db
def test_task_reports_a_configuration_error(tasks, settings):
    settings.DENGAGE_ORIGIN = ""
    record(1)
    with override_settings(TASKS=backend_settings(tasks, "immediate")):
        result = tasks.send_outbox.enqueue()
    assert result.status == "SUCCESSFUL"
    assert "DENGAGE_ORIGIN" in result.return_value["configuration_error"]
    assert result.return_value["sent"] == 0
    assert OutboxEvent.objects.get().status == "pending"


@pytest.mark.django_db
def test_task_reports_a_refused_configuration(tasks, fake_server):
    fake_server.set_api_key("another-key")
    record(2)
    with override_settings(TASKS=backend_settings(tasks, "immediate")):
        report = tasks.send_outbox.enqueue().return_value
    assert report["configuration_error"] and report["sent"] == 0
    assert list(OutboxEvent.objects.values_list("status", flat=True)) == ["pending"] * 2


# -- enqueue on record -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_enqueue_per_transaction_then_throttled(on_record, enqueued):
    with transaction.atomic():
        record(5)
        assert enqueued == []  # nothing before the commit
    assert len(enqueued) == 1
    record(1)  # autocommit: inside the throttle window
    assert len(enqueued) == 1
    on_record.now += 9.9
    record(1)
    assert len(enqueued) == 1
    on_record.now += 0.1
    with transaction.atomic():
        record(2)
    assert len(enqueued) == 2


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_enqueues_nothing(on_record, enqueued):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            record(3)
            raise RuntimeError("rolled back")
    assert enqueued == []
    assert OutboxEvent.objects.count() == 0
    # The rollback used none of the throttle: the next commit enqueues.
    record(1)
    assert len(enqueued) == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_savepoint_enqueues_nothing(on_record, enqueued):
    with transaction.atomic():
        try:
            with transaction.atomic():
                record(2)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert enqueued == []


@pytest.mark.django_db(transaction=True)
def test_invalid_events_do_not_enqueue(on_record, enqueued, lenient):
    record(2, device="TOASTER")
    assert list(OutboxEvent.objects.values_list("status", flat=True)) == ["invalid"] * 2
    assert enqueued == []
    record(1)
    assert len(enqueued) == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_enqueued_when_the_setting_is_off(on_record, enqueued, settings):
    settings.DENGAGE_TASK_ON_RECORD = False
    record(2)
    assert enqueued == []


@pytest.mark.django_db(transaction=True)
def test_connect_is_idempotent(on_record, enqueued, tasks):
    tasks.connect()
    record(1)
    assert len(enqueued) == 1
    tasks.disconnect()
    on_record.now += 60
    record(1)
    assert len(enqueued) == 1


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_is_down_breaks_nothing(on_record, enqueued, caplog):
    with override_settings(TASKS={"default": {"BACKEND": "tests.no_such_module.Backend"}}):
        record(1)
    assert OutboxEvent.objects.get().status == "pending"
    assert "could not enqueue the Dengage send task" in caplog.text
    # The failed try gave the throttle back: the next record enqueues.
    record(1)
    assert len(enqueued) == 1


@pytest.mark.django_db(transaction=True)
def test_recorded_events_are_sent_after_commit(tasks, fake_server, settings):
    settings.DENGAGE_TASK_ON_RECORD = True
    tasks.connect()
    try:
        with override_settings(TASKS=backend_settings(tasks, "immediate")):
            with transaction.atomic():
                record(2)
                assert fake_server.events == []
    finally:
        tasks.disconnect()
    assert sorted(event["userId"] for event in fake_server.events) == ["u0", "u1"]
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"sent"}


def test_throttle_lets_one_thread_through(tasks):
    throttle = tasks.Throttle(clock=FakeClock())
    start = threading.Barrier(16)
    taken = []

    def go():
        start.wait()
        taken.append(throttle.take(10.0))

    threads = [threading.Thread(target=go) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert taken.count(True) == 1 and len(taken) == 16
    assert throttle.is_open(0)  # no throttle at all
    throttle.clock.now += 10.0
    assert throttle.is_open(10.0) and throttle.take(10.0)


# -- without a task framework ------------------------------------------------


def test_import_fails_cleanly_without_a_framework(monkeypatch):
    for name in ("django.tasks", "django_tasks", "dengage_django.tasks"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    # None in sys.modules makes an import fail, as if not installed.
    monkeypatch.setitem(sys.modules, "django.tasks", None)
    monkeypatch.setitem(sys.modules, "django_tasks", None)
    receivers = len(signals.event_recorded.receivers)
    with pytest.raises(ImportError, match="django-tasks backport"):
        importlib.import_module("dengage_django.tasks")
    assert "dengage_django.tasks" not in sys.modules
    assert len(signals.event_recorded.receivers) == receivers


@pytest.mark.slow
def test_the_app_does_not_import_the_task_module_by_default():
    code = (
        "import sys, django; django.setup(); "
        "from django.core.management import call_command; call_command('check'); "
        "print('dengage_django.tasks' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="tests.settings")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
