"""Customer lifecycle: auth signals and model saves become USER_OPERATIONS."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.test import Client

import dengage_django
from dengage_django.events.users import default_user_fields
from dengage_django.exceptions import DengageValidationError
from dengage_django.models import DengageIdentity, OutboxEvent
from dengage_django.recording import receivers
from dengage_django.tracking.context import current_tracker
from dengage_django.tracking.ids import is_valid_id

from .accounts.models import Customer, Order
from .test_tracking import DESKTOP, GOOGLEBOT, PHONE

pytestmark = pytest.mark.django_db

User = get_user_model()


def user_events(step=None):
    rows = OutboxEvent.objects.filter(name="USER_OPERATIONS").order_by("id")
    payloads = [row.payload for row in rows]
    return [p for p in payloads if step is None or p["step"] == step]


@pytest.fixture
def ayse():
    user = User.objects.create_user(
        "ayse", "ayse@example.com", "pw", first_name="Ayşe", last_name="Yılmaz"
    )
    user.date_joined = datetime.datetime(2014, 1, 23, 10, 0, tzinfo=datetime.timezone.utc)
    user.save()
    OutboxEvent.objects.all().delete()
    DengageIdentity.objects.all().delete()
    return User.objects.get(pk=user.pk)


def browser(agent=DESKTOP):
    """A browser that has loaded the shop's forms (so it carries a cookie:
    a cookieless POST is not a browser's, see policy.is_browser_visit)."""
    client = Client(headers={"user-agent": agent})
    client.cookies["csrftoken"] = "form-loaded"
    return client


def test_signup_in_a_request_sends_signup_and_links_the_visitor():
    visitor = browser()
    visitor.get("/")
    visitor_id = visitor.cookies["dengage_uid"].value
    visitor.post(
        "/signup/",
        {"username": "can", "email": "can@example.com", "password": "pw", "first_name": "Can"},
    )
    [signup] = user_events("signup")
    assert signup["userId"] == visitor_id
    assert signup["username"] == "can"
    assert signup["email"] == "can@example.com"
    assert signup["fullName"] == "Can"
    assert signup["device"] == "PC"
    assert signup["memberSince"] == datetime.date.today().strftime("%d.%m.%Y")
    assert DengageIdentity.objects.get(user__username="can").dengage_user_id == visitor_id
    assert [e["step"] for e in user_events()] == ["signup", "signin"]


def test_login_and_logout_in_requests(ayse):
    visitor = browser(PHONE)
    visitor.post("/login/", {"username": "ayse", "password": "pw"})
    visitor.post("/logout/")
    signin, signout = user_events()
    assert (signin["step"], signin["username"]) == ("signin", "ayse")
    assert (signout["step"], signout["username"]) == ("signout", "ayse")
    assert signin["userId"] == signout["userId"]
    assert signin["device"] == "MOBILE"
    assert DengageIdentity.objects.get(user=ayse).dengage_user_id == signin["userId"]


def test_login_on_a_new_device_adopts_the_linked_user_id(ayse):
    first = browser()
    first.post("/login/", {"username": "ayse", "password": "pw"})
    linked = DengageIdentity.objects.get(user=ayse).dengage_user_id
    second = browser(PHONE)
    second.get("/")
    other_id = second.cookies["dengage_uid"].value
    assert other_id != linked
    response = second.post("/login/", {"username": "ayse", "password": "pw"})
    signins = user_events("signin")
    assert signins[-1]["userId"] == linked
    assert response.cookies["dengage_uid"].value == linked
    second.get("/")
    assert OutboxEvent.objects.filter(name="PAGE_VIEW").last().payload["userId"] == linked


def test_client_login_and_logout_without_middleware_request(ayse):
    client = Client()
    client.force_login(ayse)
    client.logout()
    steps = [(e["step"], e["username"]) for e in user_events()]
    assert steps == [("signin", "ayse"), ("signout", "ayse")]
    [link] = DengageIdentity.objects.filter(user=ayse)
    assert {e["userId"] for e in user_events()} == {link.dengage_user_id}
    # Events about a user outside a request share the user's own session
    # while they keep coming.
    [session_id] = {e["sessionId"] for e in user_events()}
    assert DengageIdentity.objects.get(user=ayse).session_id == session_id


def test_profile_change_sends_update_only_when_a_sent_field_changed(ayse):
    ayse.email = "ayse@new.example.com"
    ayse.save()
    [update] = user_events("update")
    assert update["email"] == "ayse@new.example.com"
    assert update["fullName"] == "Ayşe Yılmaz"
    assert update["memberSince"] == "23.01.2014"
    ayse.save()  # nothing changed
    ayse.is_staff = True
    ayse.save()  # not a field sent to Dengage
    assert len(user_events("update")) == 1


def test_last_login_and_password_saves_send_nothing(ayse):
    ayse.last_login = datetime.datetime.now(datetime.timezone.utc)
    ayse.save(update_fields=["last_login"])
    ayse.set_password("new")
    ayse.save()
    User.objects.get(pk=ayse.pk).save(update_fields=["password"])
    assert user_events() == []


def test_loading_users_never_works_out_the_default_fields(ayse, monkeypatch):
    """request.user is loaded on every request: with the default fields, what
    is sent about a user is worked out only when a user is saved, and only if
    a column changed."""
    from dengage_django.events import users

    calls = []
    real = users.default_user_fields

    def spy(user):
        calls.append(user.username)
        return real(user)

    monkeypatch.setattr(users, "default_user_fields", spy)
    client = browser()
    client.post("/login/", {"username": "ayse", "password": "pw"})
    assert calls == ["ayse"]  # the signin event's fields
    calls.clear()
    for _ in range(3):
        client.get("/")
    list(User.objects.all())
    assert calls == []
    user = User.objects.get(pk=ayse.pk)
    user.save()  # no column changed: nothing to work out
    user.is_staff = True
    user.save()  # a column changed, but none that is sent
    assert calls == ["ayse", "ayse"]  # as loaded, as saved
    assert user_events("update") == []
    user.email = "ayse@new.example.com"
    user.save()
    [update] = user_events("update")
    assert update["email"] == "ayse@new.example.com"
    user.save()  # the saved state is the new reference
    assert len(user_events("update")) == 1


def test_a_custom_callable_sees_related_changes(ayse, settings):
    """A shop's callable may read other rows: a change there is reported at
    the user's next save even when no user column changed."""
    profile = {"tier": "silver"}
    settings.DENGAGE_USER_FIELDS = lambda user: {
        "username": user.username,
        "params": {"tier": profile["tier"]},
    }
    user = User.objects.get(pk=ayse.pk)
    user.save()
    assert user_events("update") == []
    profile["tier"] = "gold"
    user.save()
    [update] = user_events("update")
    assert update["params"] == {"tier": "gold"}


def test_a_user_from_a_cache_still_reports_its_change(ayse, settings):
    """A user pickled into a cache and back carries its snapshot with it."""
    import pickle

    settings.DENGAGE_USER_FIELDS = lambda user: {
        "username": user.username,
        "full_name": user.get_full_name(),
    }
    user = pickle.loads(pickle.dumps(User.objects.get(pk=ayse.pk)))
    user.first_name = "Ayla"
    user.save()
    [update] = user_events("update")
    assert update["fullName"] == "Ayla Yılmaz"


def test_a_partially_loaded_user_still_reports_its_change(ayse):
    user = User.objects.only("pk", "username", "email").get(pk=ayse.pk)
    user.email = "ayse@only.example.com"
    user.save()
    [update] = user_events("update")
    assert update["email"] == "ayse@only.example.com"


def test_update_through_a_view_carries_the_visitors_ids(ayse):
    visitor = browser()
    visitor.post("/login/", {"username": "ayse", "password": "pw"})
    visitor.post("/profile/", {"email": "a2@example.com"})
    signin, update = user_events()
    assert update["step"] == "update" and update["email"] == "a2@example.com"
    assert update["userId"] == signin["userId"] and update["sessionId"] == signin["sessionId"]


def test_save_outside_a_request_uses_the_linked_user_id(ayse):
    DengageIdentity.objects.create(user=ayse, dengage_user_id="-4242")
    user = User.objects.get(pk=ayse.pk)
    user.first_name = "Ayşegül"
    user.save()
    [update] = user_events()
    assert update["userId"] == "-4242"
    assert is_valid_id(update["sessionId"]) and update["sessionId"] != "-4242"
    assert "device" not in update and "pageUrl" not in update


def test_user_never_seen_gets_a_fresh_linked_id(ayse):
    ayse.first_name = "A"
    ayse.save()
    [update] = user_events()
    assert DengageIdentity.objects.get(user=ayse).dengage_user_id == update["userId"]


def test_admin_edit_is_reported_with_the_linked_id(ayse, admin_client):
    DengageIdentity.objects.create(user=ayse, dengage_user_id="777")
    OutboxEvent.objects.all().delete()  # the admin's own login
    response = admin_client.post(
        f"/admin/auth/user/{ayse.pk}/change/",
        {
            "username": "ayse",
            "first_name": "Ayşe",
            "last_name": "Kaya",
            "email": "ayse@example.com",
            "date_joined_0": "2014-01-23",
            "date_joined_1": "10:00:00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    [update] = user_events()
    assert (update["userId"], update["fullName"]) == ("777", "Ayşe Kaya")


def test_bots_and_visitors_without_consent_send_nothing(ayse, settings):
    browser(GOOGLEBOT).post("/login/", {"username": "ayse", "password": "pw"})
    settings.DENGAGE_CONSENT = lambda request: False
    browser().post("/login/", {"username": "ayse", "password": "pw"})
    assert user_events() == []
    # Not linked to any id; the refusal is remembered for events about her.
    [identity] = DengageIdentity.objects.all()
    assert (identity.dengage_user_id, identity.consent) == ("", False)


def test_contact_details_can_be_withheld(ayse, settings):
    settings.DENGAGE_SEND_CONTACT_DETAILS = False
    ayse.first_name = "X"
    ayse.save()
    [update] = user_events()
    assert "email" not in update and update["fullName"] == "X Yılmaz"


def test_custom_user_fields_callable(ayse, settings):
    settings.DENGAGE_USER_FIELDS = lambda user: {"username": user.username, "segments": ["vip"]}
    ayse.username = "ayse2"
    ayse.save()
    [update] = user_events()
    assert update["segments"] == ["vip"] and "email" not in update


def test_user_events_can_be_turned_off(ayse, settings):
    settings.DENGAGE_USER_EVENTS = False
    browser().post("/login/", {"username": "ayse", "password": "pw"})
    ayse.email = "z@example.com"
    ayse.save()
    assert user_events() == []


def test_user_without_email_sends_no_email():
    User.objects.create_user("noemail", password="pw")
    [signup] = user_events("signup")
    assert "email" not in signup and "fullName" not in signup


def test_huge_full_name_lenient_is_truncated_strict_raises(settings):
    # Django's first_name holds 150 characters: a 10 kB name comes from a
    # shop's own profile data, through its user-fields callable.
    settings.DENGAGE_USER_FIELDS = lambda user: {
        "username": user.username,
        "full_name": "x" * 10_000,
    }
    settings.DENGAGE_STRICT = False
    User.objects.create_user("big")
    [signup] = user_events("signup")
    assert len(signup["fullName"]) == 2048
    settings.DENGAGE_STRICT = True
    with pytest.raises(DengageValidationError, match=r"USER_OPERATIONS\.fullName"):
        User.objects.create_user("big2")


def test_age_that_is_not_a_number(settings):
    settings.DENGAGE_USER_FIELDS = lambda user: {"username": user.username, "age": "old"}
    settings.DENGAGE_STRICT = False
    User.objects.create_user("aged")
    row = OutboxEvent.objects.get(name="USER_OPERATIONS")
    assert row.status == "invalid" and row.last_error.startswith("USER_OPERATIONS.age:")
    settings.DENGAGE_STRICT = True
    with pytest.raises(DengageValidationError, match=r"USER_OPERATIONS\.age"):
        User.objects.create_user("aged2")


def test_broken_user_fields_callable_never_breaks_a_save_when_lenient(settings, caplog):
    def broken(user):
        raise KeyError("profile")

    settings.DENGAGE_USER_FIELDS = broken
    settings.DENGAGE_STRICT = False
    user = User.objects.create_user("fine")
    assert user.pk
    assert "on_user_saved failed" in caplog.text


def test_rolled_back_save_sends_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create_user("ghost")
        raise RuntimeError
    assert user_events() == []
    assert not DengageIdentity.objects.exists()


def test_custom_user_model_fields():
    customer = Customer(
        email="deniz@example.com",
        phone_number="+90 555",
        gender="F",
        date_of_birth=datetime.date(1990, 5, 17),
    )
    fields = default_user_fields(customer)
    assert fields == {
        "username": "deniz@example.com",
        "email": "deniz@example.com",
        "phone": "+90 555",
        "gender": "F",
        "birthDate": datetime.date(1990, 5, 17),
    }


def test_custom_user_model_saves_through_the_receivers():
    # Connect the receivers to the custom model as AppConfig.ready() does
    # for AUTH_USER_MODEL.
    post_init.connect(receivers.remember_loaded_fields, sender=Customer, dispatch_uid="t-init")
    post_save.connect(receivers.on_user_saved, sender=Customer, dispatch_uid="t-save")
    try:
        customer = Customer.objects.create_user("deniz@example.com", "pw", gender="F")
        loaded = Customer.objects.get(pk=customer.pk)
        loaded.save(update_fields=["last_login"])
        loaded.phone_number = "+90 555"
        loaded.save()
    finally:
        post_init.disconnect(sender=Customer, dispatch_uid="t-init")
        post_save.disconnect(sender=Customer, dispatch_uid="t-save")
    signup, update = user_events()
    assert (signup["step"], signup["username"]) == ("signup", "deniz@example.com")
    assert (update["step"], update["phone"]) == ("update", "+90 555")


def test_context_var_holds_the_tracker_during_the_request_only():
    from dengage_django import signals

    seen = []

    def receiver(sender, event, **kwargs):
        seen.append(current_tracker.get())

    signals.event_recorded.connect(receiver)
    try:
        browser().get("/p/1/")
    finally:
        signals.event_recorded.disconnect(receiver)
    assert len(seen) == 2
    assert seen[0] is not None and seen[0] is seen[1]
    assert seen[0].request.path == "/p/1/"
    assert current_tracker.get() is None


# -- the model registry -------------------------------------------------------


def purchase_events(order, created, changes):
    if changes.get("status", (None, None))[1] == "paid":
        return (
            "CHECKOUT",
            {
                "step": "purchase",
                "total_price": order.total,
                "product_list": [{"product_id": "P1", "price": order.total}],
                "order_no": order.pk,
                "user": order.customer,
            },
        )
    return None


@pytest.fixture
def registered_orders():
    dengage_django.register_model(Order, purchase_events, track_fields=["status"])
    yield
    dengage_django.unregister_model(Order)


def test_registry_records_on_the_transition_only(registered_orders, ayse):
    order = Order.objects.create(customer=ayse, total="349.99")
    assert not OutboxEvent.objects.filter(name="CHECKOUT").exists()
    order.status = "paid"
    order.save()
    order.save()  # still paid: no second purchase
    Order.objects.get(pk=order.pk).save()
    [purchase] = OutboxEvent.objects.filter(name="CHECKOUT")
    assert purchase.payload["orderNo"] == str(order.pk)
    assert purchase.payload["totalPrice"] == 349.99
    assert purchase.payload["userId"] == DengageIdentity.objects.get(user=ayse).dengage_user_id


def test_registry_event_rolls_back_with_the_save(registered_orders, ayse):
    with pytest.raises(RuntimeError), transaction.atomic():
        Order.objects.create(customer=ayse, total="10.00", status="paid")
        raise RuntimeError("card declined")
    assert not OutboxEvent.objects.filter(name="CHECKOUT").exists()
    with transaction.atomic():
        Order.objects.create(customer=ayse, total="10.00", status="paid")
    assert OutboxEvent.objects.filter(name="CHECKOUT").count() == 1


def test_registry_bad_event_lenient_and_strict(ayse, settings):
    dengage_django.register_model(Order, lambda o, created, changes: ("CHECKOUT", {"step": "x"}))
    try:
        settings.DENGAGE_STRICT = False
        Order.objects.create(total="1.00")
        assert OutboxEvent.objects.get(name="CHECKOUT").status == "invalid"
        settings.DENGAGE_STRICT = True
        with pytest.raises(DengageValidationError):
            Order.objects.create(total="1.00")
    finally:
        dengage_django.unregister_model(Order)


def test_unregistered_model_records_nothing(ayse):
    Order.objects.create(customer=ayse, total="5.00", status="paid")
    assert not OutboxEvent.objects.filter(name="CHECKOUT").exists()


def test_staff_permission_fixture_is_available():
    # Guards the admin test above: the admin needs the auth permissions.
    assert Permission.objects.filter(codename="change_user").exists()


def _identity_statements(queries):
    table = DengageIdentity._meta.db_table
    return [q["sql"].split()[0].upper() for q in queries if table in q["sql"]]


def test_a_user_created_outside_a_request_is_linked_in_one_insert():
    # A shop's fixtures and factories create users by the thousand (in
    # django-oscar's test suite, 827 sign-ups): one SELECT of the row for
    # consent and ids, one INSERT with the ids and the session.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        user = User.objects.create_user("new-one", "new@example.com", "pw")
    assert _identity_statements(captured.captured_queries) == ["SELECT", "INSERT"]
    [signup] = OutboxEvent.objects.filter(name="USER_OPERATIONS").values_list("payload", flat=True)
    identity = DengageIdentity.objects.get(user=user)
    assert (signup["userId"], signup["sessionId"]) == (
        identity.dengage_user_id,
        identity.session_id,
    )
    assert identity.session_seen_at is not None and identity.consent is None
    with CaptureQueriesContext(connection) as captured:
        user.email = "renamed@example.com"
        user.save()  # the next event: one SELECT, the same ids
    assert _identity_statements(captured.captured_queries) == ["SELECT"]
    update = OutboxEvent.objects.filter(name="USER_OPERATIONS").order_by("id").last().payload
    assert (update["userId"], update["sessionId"]) == (signup["userId"], signup["sessionId"])


def test_a_row_linked_meanwhile_is_used_not_overwritten(monkeypatch):
    # Between the SELECT and the INSERT another request linked the user.
    from dengage_django.recording import subject

    user = User.objects.create_user("raced", "raced@example.com", "pw")
    DengageIdentity.objects.filter(user=user).update(dengage_user_id="u-linked-1")
    assert subject.subject_ids(user, row={})["userId"] == "u-linked-1"
    assert DengageIdentity.objects.filter(user=user).count() == 1
