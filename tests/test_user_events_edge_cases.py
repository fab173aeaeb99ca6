"""USER_OPERATIONS from auth signals and user saves, in the cases the main
lifecycle tests do not reach: logging out while anonymous, loading users
from a fixture, a DENGAGE_USER_FIELDS callable failing while a user loads,
a server-side event keeping the user's session alive, and an event about a
visitor who refused consent. Plus the model registry and the template
tags failing on unexpected errors, lenient and strict."""

import datetime
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone

import dengage_django
from dengage_django.events.users import default_user_fields, user_fields
from dengage_django.models import DengageIdentity, OutboxEvent
from dengage_django.recording import receivers
from dengage_django.recording.subject import SEEN_GRANULARITY, record_about
from dengage_django.tracking.tracker import Tracker

from .accounts.models import Order
from .test_tracking import DESKTOP

pytestmark = pytest.mark.django_db

User = get_user_model()


def user_events():
    return list(
        OutboxEvent.objects.filter(name="USER_OPERATIONS")
        .order_by("id")
        .values_list("payload", flat=True)
    )


@pytest.fixture
def ada():
    user = User.objects.create_user("ada", "ada@example.com", "pw", first_name="Ada")
    OutboxEvent.objects.all().delete()
    DengageIdentity.objects.all().delete()
    return User.objects.get(pk=user.pk)


def test_logging_out_while_anonymous_sends_no_signout():
    browser = Client(headers={"user-agent": DESKTOP})
    browser.get("/")
    cookie = browser.cookies["dengage_uid"].value
    response = browser.post("/logout/")
    assert response.status_code == 302
    assert user_events() == []
    # The visitor keeps their ids: nothing was reset.
    browser.get("/")
    assert browser.cookies["dengage_uid"].value == cookie


def test_users_loaded_from_a_fixture_send_no_signup(tmp_path):
    fixture = tmp_path / "users.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": User._meta.label_lower,
                    "pk": 901,
                    "fields": {"username": "grace", "email": "g@example.com", "password": "!"},
                }
            ]
        )
    )
    call_command("loaddata", str(fixture), verbosity=0)
    assert User.objects.filter(username="grace").exists()
    assert user_events() == []
    assert not DengageIdentity.objects.exists()


def test_a_user_fields_callable_failing_at_load_never_breaks_loading(ada, settings):
    calls = []

    def fields(user):
        calls.append(user.pk)
        raise RuntimeError("profile table missing")

    settings.DENGAGE_USER_FIELDS = fields
    settings.DENGAGE_STRICT = False
    loaded = User.objects.get(pk=ada.pk)
    assert loaded.username == "ada" and calls == [ada.pk]
    assert not hasattr(loaded, receivers.SNAPSHOT)


def test_an_event_about_a_user_refreshes_a_session_seen_a_while_ago(ada):
    seen = timezone.now() - datetime.timedelta(seconds=SEEN_GRANULARITY * 3)
    DengageIdentity.objects.create(
        user=ada, dengage_user_id="-77", session_id="-88", session_seen_at=seen
    )
    event = dengage_django.track("CUSTOM_EVENT", user=ada, type="loyalty")
    assert (event.payload["userId"], event.payload["sessionId"]) == ("-77", "-88")
    identity = DengageIdentity.objects.get(user=ada)
    assert identity.session_id == "-88"
    assert identity.session_seen_at > seen + datetime.timedelta(seconds=SEEN_GRANULARITY)


def test_an_event_about_a_user_keeps_a_session_seen_just_now_without_a_write(ada):
    seen = timezone.now() - datetime.timedelta(seconds=1)
    DengageIdentity.objects.create(
        user=ada, dengage_user_id="-77", session_id="-88", session_seen_at=seen
    )
    dengage_django.track("CUSTOM_EVENT", user=ada, type="loyalty")
    assert DengageIdentity.objects.get(user=ada).session_seen_at == seen


def test_no_event_about_the_visitor_when_their_request_refused_consent(ada, settings):
    settings.DENGAGE_CONSENT = lambda request: False
    # Consent about the user in general says yes: this request's "no" wins.
    settings.DENGAGE_USER_CONSENT = lambda user: True
    request = RequestFactory().get("/", HTTP_USER_AGENT=DESKTOP)
    request.user = ada
    request.dengage = Tracker(request)
    assert request.dengage.untracked_reason == "no consent"
    assert record_about("CUSTOM_EVENT", ada, {"type": "x"}, request=request) is None
    assert not OutboxEvent.objects.exists()


# -- unexpected errors: logged when lenient, raised when strict ---------------


def crashing_build(order, created, changes):
    raise ZeroDivisionError("shop bug")


@pytest.fixture
def crashing_orders():
    dengage_django.register_model(Order, crashing_build)
    yield
    dengage_django.unregister_model(Order)


def test_a_crashing_registry_build_never_breaks_a_save_when_lenient(
    crashing_orders, lenient, caplog
):
    order = Order.objects.create(total="5.00")
    assert Order.objects.filter(pk=order.pk).exists()
    assert "dengage_django: events for accounts.Order failed" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_a_crashing_registry_build_raises_when_strict(crashing_orders):
    with pytest.raises(ZeroDivisionError):
        Order.objects.create(total="5.00")


def test_the_registry_records_nothing_when_disabled_or_loading_fixtures(settings):
    dengage_django.register_model(Order, lambda o, created, changes: ("CUSTOM_EVENT", {}))
    try:
        settings.DENGAGE_ENABLED = False
        Order.objects.create(total="1.00")
        settings.DENGAGE_ENABLED = True
        Order(total="2.00").save_base(raw=True)  # what loaddata does
    finally:
        dengage_django.unregister_model(Order)
    assert Order.objects.count() == 2
    assert not OutboxEvent.objects.exists()


class _BrokenTracker:
    def page(self, *args):
        raise KeyError("tracker bug")


TAG = Template('{% load dengage %}{% dengage_page "Home Page" %}rendered')


def test_a_failing_template_tag_renders_the_page_when_lenient(lenient, caplog):
    request = RequestFactory().get("/")
    request.dengage = _BrokenTracker()
    assert TAG.render(Context({"request": request})) == "rendered"
    assert "{% dengage page %} failed" in caplog.text


def test_a_failing_template_tag_raises_when_strict():
    request = RequestFactory().get("/")
    request.dengage = _BrokenTracker()
    with pytest.raises(KeyError, match="tracker bug"):
        TAG.render(Context({"request": request}))


# -- the fields sent about a user ----------------------------------------------


class _Member:
    """A user-like object whose date_joined is a plain date (a DateField)."""

    pk = 7
    date_joined = datetime.date(2019, 5, 4)

    def get_username(self):
        return "member7"


def test_member_since_from_a_plain_date():
    fields = default_user_fields(_Member())
    assert fields == {"username": "member7", "memberSince": datetime.date(2019, 5, 4)}


def shop_user_fields(user):
    """A dotted-path DENGAGE_USER_FIELDS."""
    return {"username": f"shop-{user.pk}", "gender": "F"}


def test_user_fields_from_a_dotted_path(settings):
    settings.DENGAGE_USER_FIELDS = f"{__name__}.shop_user_fields"
    assert user_fields(_Member()) == {"username": "shop-7", "gender": "F"}
