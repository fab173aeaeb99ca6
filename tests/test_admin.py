"""The outbox in the Django admin."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from dengage_django import outbox
from dengage_django.models import OutboxEvent
from dengage_django.status import format_age

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status
LIST_URL = "/admin/dengage_django/outboxevent/"
SECRET = "k3y-DISTINCTIVE-7f3a9c1e"
OUR_ACTIONS = {"send_now", "requeue_dead", "mark_dead"}


def detail_url(event):
    return f"{LIST_URL}{event.pk}/change/"


def make(name="PAGE_VIEW", status=Status.PENDING, *, user_id="u1", **fields):
    """One stored event; ``fields`` beyond the payload's set its columns."""
    columns = {k: fields.pop(k) for k in list(fields) if k in COLUMNS}
    payload = {"name": name, "userId": user_id, "sessionId": "s1", **fields}
    event = outbox.record_one(name, payload, status=status)
    if columns:
        OutboxEvent.objects.filter(pk=event.pk).update(**columns)
        event.refresh_from_db()
    return event


COLUMNS = {"attempts", "next_attempt_at", "lease_owner", "last_error", "created_at", "sent_at"}


def one_of_each():
    now = timezone.now()
    return {
        Status.PENDING: make(user_id="u-pending"),
        Status.IN_FLIGHT: make(
            status=Status.IN_FLIGHT,
            user_id="u-flight",
            lease_owner="w1",
            next_attempt_at=now + timedelta(seconds=40),
        ),
        Status.SENT: make(status=Status.SENT, user_id="u-sent", sent_at=now),
        Status.DEAD: make(status=Status.DEAD, user_id="u-dead", last_error="HTTP 400", attempts=3),
        Status.INVALID: make(status=Status.INVALID, user_id="u-invalid", last_error="bad"),
    }


def rows(response):
    return list(response.context["cl"].result_list)


def offered_actions(response):
    form = response.context["action_form"]
    if form is None:
        return set()
    return {value for value, _label in form.fields["action"].choices if value}


def run_action(client, action, events, **query):
    data = {"action": action, "_selected_action": [e.pk for e in events], "index": "0"}
    return client.post(LIST_URL, data, follow=True, **query)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture(autouse=True)
def no_user_events(settings):
    """Creating and logging in the admin users records no USER_OPERATIONS:
    every outbox row in these tests is one a test made."""
    settings.DENGAGE_USER_EVENTS = False


@pytest.fixture
def staff(django_user_model):
    """A staff user factory holding just the given outbox permissions."""

    def create(username, *codenames):
        user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return user

    return create


@pytest.fixture
def viewer_client(client, staff):
    client.force_login(staff("viewer", "view_outboxevent"))
    return client


@pytest.fixture
def operator_client(client, staff):
    client.force_login(staff("operator", "view_outboxevent", "change_outboxevent"))
    return client


# -- The list ------------------------------------------------------------------


def test_list_shows_every_status_with_counts_and_lag(admin_client):
    events = one_of_each()
    make(user_id="u-pending-2")
    OutboxEvent.objects.filter(pk=events[Status.PENDING].pk).update(
        created_at=timezone.now() - timedelta(minutes=3, seconds=10)
    )
    # Older events that are not pending are no backlog.
    for status in (Status.IN_FLIGHT, Status.SENT, Status.DEAD):
        OutboxEvent.objects.filter(pk=events[status].pk).update(
            created_at=timezone.now() - timedelta(days=2)
        )
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    assert {e.status for e in rows(response)} == set(Status.values)
    summary = response.context["outbox_summary"]
    assert summary.counts == [
        ("pending", "pending", 2),
        ("in_flight", "in flight", 1),
        ("sent", "sent", 1),
        ("dead", "dead", 1),
        ("invalid", "invalid", 1),
    ]
    html = response.content.decode()
    assert "oldest pending: 3 min" in html
    assert "pending: <strong>2</strong>" in html
    assert "in flight: <strong>1</strong>" in html
    assert 'href="?status__exact=dead"' in html


def test_list_header_with_nothing_waiting(admin_client):
    make(status=Status.SENT)
    response = admin_client.get(LIST_URL)
    assert "oldest pending: none" in response.content.decode()
    assert "sent: <strong>1</strong>" in response.content.decode()


def test_the_list_skips_the_full_count_and_orders_by_newest_id(admin_client):
    first, second, third = make(), make(), make()
    response = admin_client.get(LIST_URL)
    cl = response.context["cl"]
    assert [e.pk for e in rows(response)] == [third.pk, second.pk, first.pk]
    assert cl.show_full_result_count is False
    assert cl.list_per_page == 100


@pytest.mark.parametrize(
    "seconds, shown",
    [(0, "0 s"), (59, "59 s"), (190, "3 min"), (3600, "1 h"), (7500, "2 h 5 min"),
     (86400, "1 d"), (3 * 86400 + 4 * 3600 + 60, "3 d 4 h"), (-5, "0 s")],
)  # fmt: skip
def test_format_age(seconds, shown):
    assert format_age(seconds) == shown


def test_filter_by_status(admin_client):
    events = one_of_each()
    response = admin_client.get(LIST_URL, {"status__exact": "dead"})
    assert [e.pk for e in rows(response)] == [events[Status.DEAD].pk]


def test_filter_by_name(admin_client):
    make("PAGE_VIEW")
    custom = make("CUSTOM_EVENT", type="wishlist_add")
    response = admin_client.get(LIST_URL, {"name": "CUSTOM_EVENT"})
    assert [e.pk for e in rows(response)] == [custom.pk]
    # The filter offers the known names without scanning the table.
    assert "?name=PRODUCT_VIEW" in response.content.decode()


def test_date_hierarchy_on_created_at(admin_client):
    old = make(created_at=timezone.now().replace(year=2020))
    make()
    response = admin_client.get(LIST_URL, {"created_at__year": "2020"})
    assert [e.pk for e in rows(response)] == [old.pk]


@pytest.mark.parametrize(
    "term, wanted",
    [
        ("u10", "by_user"),
        ("u1", "other_user"),
        ("P2", "by_product"),
        ("wishlist_add", "by_type"),
        (" P2 ", "by_product"),
    ],
)
def test_search_finds_exactly_the_right_row(admin_client, term, wanted):
    events = {
        "by_user": make(user_id="u10", productId="P1"),
        "other_user": make(user_id="u1", productId="P10"),
        "by_product": make("PRODUCT_VIEW", user_id="u2", productId="P2"),
        "by_type": make("CUSTOM_EVENT", user_id="u3", type="wishlist_add"),
        "other_type": make("CUSTOM_EVENT", user_id="u4", type="wishlist_add_more"),
    }
    response = admin_client.get(LIST_URL, {"q": term})
    assert [e.pk for e in rows(response)] == [events[wanted].pk]


def test_search_matches_a_numeric_product_id_of_an_invalid_event(admin_client):
    invalid = make(status=Status.INVALID, productId=42)
    make(productId="420")
    response = admin_client.get(LIST_URL, {"q": "42"})
    assert [e.pk for e in rows(response)] == [invalid.pk]


def test_empty_search_lists_everything(admin_client):
    make(), make()
    response = admin_client.get(LIST_URL, {"q": "  "})
    assert len(rows(response)) == 2


# -- The detail page -----------------------------------------------------------


def test_detail_shows_pretty_escaped_payload_and_error(admin_client):
    event = make(
        "CUSTOM_EVENT",
        type="<script>alert(1)</script>",
        last_error="HTTP 400: Dengage answered BAD_INPUT",
    )
    response = admin_client.get(detail_url(event))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<pre style="white-space: pre-wrap; margin: 0">{\n  &quot;name&quot;: ' in html
    assert "\n  &quot;userId&quot;: &quot;u1&quot;,\n" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "HTTP 400: Dengage answered BAD_INPUT" in html


def test_detail_is_read_only_without_save_buttons(admin_client):
    event = make()
    response = admin_client.get(detail_url(event))
    html = response.content.decode()
    assert response.context["adminform"].form.fields == {}
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert 'name="_addanother"' not in html
    # The change permission is real (it gates the actions) ...
    assert response.context["has_change_permission"] is True
    # ... but there is nothing to save: a crafted POST is refused.
    answer = admin_client.post(detail_url(event), {"name": "X", "status": "sent"})
    assert answer.status_code == 403
    event.refresh_from_db()
    assert (event.name, event.status) == ("PAGE_VIEW", Status.PENDING)


def test_add_page_is_forbidden(admin_client):
    response = admin_client.get(f"{LIST_URL}add/")
    assert response.status_code == 403
    assert admin_client.post(f"{LIST_URL}add/", {"name": "X"}).status_code == 403
    assert not OutboxEvent.objects.exists()
    assert f'href="{LIST_URL}add/"' not in admin_client.get(LIST_URL).content.decode()


def test_view_only_user_sees_the_detail(viewer_client):
    event = make(last_error="HTTP 503")
    response = viewer_client.get(detail_url(event))
    assert response.status_code == 200
    assert "HTTP 503" in response.content.decode()


# -- Actions -------------------------------------------------------------------


def test_send_now_clears_the_back_off_of_pending_events_only(admin_client):
    now = timezone.now()
    later = now + timedelta(hours=1)
    backing_off = make(attempts=2, next_attempt_at=later)
    not_selected = make(attempts=2, next_attempt_at=later)
    leased = make(status=Status.IN_FLIGHT, lease_owner="w1", next_attempt_at=later)
    expired = make(
        status=Status.IN_FLIGHT, lease_owner="w2", next_attempt_at=now - timedelta(seconds=10)
    )
    dead = make(status=Status.DEAD, next_attempt_at=later)
    sent = make(status=Status.SENT, next_attempt_at=later)
    before = {e.pk: e.next_attempt_at for e in (leased, expired, dead, sent)}

    response = run_action(admin_client, "send_now", [backing_off, leased, expired, dead, sent])

    backing_off.refresh_from_db()
    assert now <= backing_off.next_attempt_at <= timezone.now()
    assert backing_off.attempts == 2
    assert backing_off.status == Status.PENDING
    for event in (leased, expired, dead, sent):
        event.refresh_from_db()
        assert event.next_attempt_at == before[event.pk]
    assert (leased.status, leased.lease_owner) == (Status.IN_FLIGHT, "w1")
    assert dead.status == Status.DEAD
    not_selected.refresh_from_db()
    assert not_selected.next_attempt_at == later
    # The expired lease was due already: it counts as due now.
    assert messages_of(response) == [
        "2 events due now. 3 skipped (sent, dead, invalid, or in flight under a lease)."
    ]


def test_requeue_dead(admin_client):
    dead = make(status=Status.DEAD, attempts=20, last_error="HTTP 400",
                next_attempt_at=timezone.now() + timedelta(hours=1))  # fmt: skip
    other_dead = make(status=Status.DEAD, attempts=20)
    pending = make(attempts=3)
    response = run_action(admin_client, "requeue_dead", [dead, pending])
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (Status.PENDING, 0)
    assert dead.next_attempt_at <= timezone.now()
    other_dead.refresh_from_db()
    assert (other_dead.status, other_dead.attempts) == (Status.DEAD, 20)
    pending.refresh_from_db()
    assert pending.attempts == 3
    assert messages_of(response) == ["1 event requeued. 1 skipped (not dead)."]


def test_mark_dead_names_the_user(operator_client):
    first, second = make(), make()
    untouched = make()
    leased = make(status=Status.IN_FLIGHT, lease_owner="w1")
    sent = make(status=Status.SENT)
    response = run_action(operator_client, "mark_dead", [first, second, leased, sent])
    for event in (first, second):
        event.refresh_from_db()
        assert (event.status, event.last_error) == (Status.DEAD, "marked dead by operator")
    for event, status in ((untouched, Status.PENDING), (leased, Status.IN_FLIGHT),
                          (sent, Status.SENT)):  # fmt: skip
        event.refresh_from_db()
        assert (event.status, event.last_error) == (status, "")
    assert messages_of(response) == ["2 events marked dead. 2 skipped (not pending)."]


def test_an_action_with_nothing_to_do_warns(admin_client):
    sent = make(status=Status.SENT)
    response = run_action(admin_client, "requeue_dead", [sent])
    [message] = list(response.context["messages"])
    assert str(message) == "0 events requeued. 1 skipped (not dead)."
    assert message.level_tag == "warning"


def test_superuser_gets_every_action_and_can_delete(admin_client):
    keep, gone = make(), make()
    assert offered_actions(admin_client.get(LIST_URL)) == OUR_ACTIONS | {"delete_selected"}
    admin_client.post(
        LIST_URL,
        {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"},
    )
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [keep.pk]


def test_change_permission_offers_the_state_actions_but_not_delete(operator_client):
    response = operator_client.get(LIST_URL)
    assert offered_actions(response) == OUR_ACTIONS


def test_view_only_user_sees_the_list_but_runs_no_action(viewer_client):
    dead = make(status=Status.DEAD, attempts=20)
    pending = make(next_attempt_at=timezone.now() + timedelta(hours=1))
    response = viewer_client.get(LIST_URL)
    assert response.status_code == 200
    assert offered_actions(response) == set()
    assert len(rows(response)) == 2
    for action in (*OUR_ACTIONS, "delete_selected"):
        run_action(viewer_client, action, [dead, pending])
    dead.refresh_from_db()
    pending.refresh_from_db()
    assert (dead.status, dead.attempts) == (Status.DEAD, 20)
    assert pending.status == Status.PENDING
    assert pending.next_attempt_at > timezone.now()
    assert OutboxEvent.objects.count() == 2


# -- The API key ---------------------------------------------------------------


def test_the_api_key_shows_nowhere(admin_client, settings):
    settings.DENGAGE_API_KEY = SECRET
    leaked = f"POST https://dce1.example.com/add/events/v1.json?apiKey={SECRET} failed ({SECRET})"
    dead = make(status=Status.DEAD, last_error=leaked)
    in_payload = make("CUSTOM_EVENT", type="oops", params={"key": SECRET})

    pages = {
        "list": admin_client.get(LIST_URL),
        "detail": admin_client.get(detail_url(dead)),
        "payload detail": admin_client.get(detail_url(in_payload)),
        "send now": run_action(admin_client, "send_now", [dead, in_payload]),
        "mark dead": run_action(admin_client, "mark_dead", [in_payload]),
        "requeue": run_action(admin_client, "requeue_dead", [dead, in_payload]),
        "detail after actions": admin_client.get(detail_url(dead)),
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        assert SECRET not in response.content.decode(), where
        assert all(SECRET not in m for m in messages_of(response)), where
    assert "[REDACTED]" in pages["detail"].content.decode()
    assert "apiKey=[REDACTED]" in pages["detail"].content.decode()
    assert "[REDACTED]" in pages["payload detail"].content.decode()
    # The stored error itself is untouched: redaction is on display.
    dead.refresh_from_db()
    assert SECRET in dead.last_error


def test_marking_dead_sends_event_dead_like_any_other_death(operator_client):
    from dengage_django import signals

    first, second = make(), make()
    received = []

    def on_dead(sender, event_ids, reason, **kwargs):
        received.append((sender, sorted(event_ids), reason))

    signals.event_dead.connect(on_dead)
    try:
        run_action(operator_client, "mark_dead", [first, second, make(status=Status.SENT)])
    finally:
        signals.event_dead.disconnect(on_dead)
    assert received == [(OutboxEvent, sorted([first.pk, second.pk]), "marked dead by operator")]


def test_the_admin_and_the_command_requeue_alike(admin_client):
    from dengage_django import outbox

    by_admin = make(status=Status.DEAD, attempts=20, lease_owner="stale")
    by_command = make(status=Status.DEAD, attempts=20, lease_owner="stale")
    run_action(admin_client, "requeue_dead", [by_admin])
    assert outbox.requeue_dead() == 1
    rows = OutboxEvent.objects.filter(pk__in=[by_admin.pk, by_command.pk])
    assert {(r.status, r.attempts, r.lease_owner) for r in rows} == {(Status.PENDING, 0, "")}
