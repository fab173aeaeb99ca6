"""The outbox in the Django admin: watch the backlog, nudge stuck events.

Events are recorded by code and moved by the sender, so nobody edits one
here: every field is read-only, there is no add page and the change page has
no Save button (and refuses a POST). Users with the change permission can
run the state-changing actions (send now, requeue dead, mark dead); users
with the delete permission can delete. Text that came from the outside
(payload, last error) is shown through :func:`.delivery.redaction.redact`, so the API key
never appears in the admin even if it was stored by mistake.

The list is built for tables of millions of rows: no full count on each
page, ``-id`` ordering (the primary key), a name filter that lists the known
event names instead of running ``SELECT DISTINCT``, and exact-match search.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from . import outbox
from .delivery.redaction import redact
from .events.validation import EVENT_NAMES
from .models import OutboxEvent
from .status import format_age

Status = OutboxEvent.Status

#: Integers that fit in every backend's JSON number comparison.
_MAX_INT_DIGITS = 18


def count_events(n):
    return f"{n} event" if n == 1 else f"{n} events"


class OutboxSummary:
    """The header above the list: events per status and the backlog's age.

    Queried only when the template shows it (not for an action's POST, which
    redirects): :func:`.outbox.counts` plus one ``MIN(created_at)``.
    """

    @cached_property
    def counts(self):
        """``[(status, label, count), ...]`` for every status, in model order."""
        counts = outbox.counts()
        return [(status.value, status.label, counts[status.value]) for status in Status]

    @cached_property
    def oldest_pending(self):
        """``created_at`` of the oldest ``pending`` event, due or not (as in
        ``dengage_status``): one ``MIN`` served by the ``(status, created_at)`` index."""
        return outbox.events().oldest_pending()

    @property
    def lag(self):
        """The backlog lag, e.g. ``3 min``; ``none`` when nothing waits."""
        oldest = self.oldest_pending
        if oldest is None:
            return "none"
        return format_age((timezone.now() - oldest).total_seconds())


class EventNameFilter(admin.SimpleListFilter):
    """Filter by event name, offering the known names (no DISTINCT scan).

    Any name (an invalid event's, say) still filters through the URL.
    """

    title = "name"
    parameter_name = "name"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EVENT_NAMES]

    def queryset(self, request, queryset):
        value = self.value()
        if value:
            return queryset.filter(name=value)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "status",
        "attempts",
        "next_attempt",
        "created_at",
        "sent_at",
        "user_id",
    )
    list_display_links = ("id", "name")
    list_filter = ("status", EventNameFilter)
    date_hierarchy = "created_at"
    # Shows the search box; get_search_results does the matching.
    search_fields = ("user_id",)
    search_help_text = "An exact userId, productId or type (of a CUSTOM_EVENT)."
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False
    actions = ("send_now", "requeue_dead", "mark_dead")
    change_list_template = "admin/dengage_django/outboxevent/change_list.html"
    readonly_fields = ("error", "pretty_payload")
    fieldsets = (
        (None, {"fields": ("name", "status", "user_id", "created_at", "sent_at")}),
        ("Delivery", {"fields": ("attempts", "next_attempt_at", "lease_owner", "error")}),
        ("Payload", {"fields": ("pretty_payload",)}),
    )

    # -- The list ------------------------------------------------------------

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj):
        """When an open event is due (a lease expiry while in flight); blank otherwise."""
        if obj.status in (Status.PENDING, Status.IN_FLIGHT):
            return obj.next_attempt_at
        return None

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "outbox_summary": OutboxSummary()}
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        """Exact matches on the userId column and the payload's productId and
        type (JSON key lookups, which SQLite, PostgreSQL and MariaDB all run)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(user_id=term) | Q(payload__productId=term) | Q(payload__type=term)
        if term.isascii() and term.isdigit() and len(term) <= _MAX_INT_DIGITS:
            # An invalid event keeps its raw input, where an id may be a number.
            match |= Q(payload__productId=int(term))
        return queryset.filter(match), False

    # -- The detail page: read-only --------------------------------------------

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + list(self.readonly_fields)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            # Saving would write back every column, racing the sender.
            raise PermissionDenied
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        text = json.dumps(obj.payload, indent=2, ensure_ascii=False, default=str)
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', redact(text))

    @admin.display(description="last error")
    def error(self, obj):
        if not obj.last_error:
            return self.get_empty_value_display()
        return format_html(
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>', redact(obj.last_error)
        )

    # -- Actions ---------------------------------------------------------------

    def _report(self, request, done, selected, what, skipped_because):
        message = f"{count_events(done)} {what}."
        skipped = selected - done
        if skipped:
            message += f" {skipped} skipped ({skipped_because})."
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)

    @admin.action(permissions=["change"], description="Send now (clear the retry back-off)")
    def send_now(self, request, queryset):
        """Make pending events due now. Expired leases are due already; live
        leases (a worker is sending) and dead events are left alone."""
        selected = queryset.count()
        due = outbox.make_due(queryset)
        self._report(
            request, due, selected, "due now", "sent, dead, invalid, or in flight under a lease"
        )

    @admin.action(permissions=["change"], description="Requeue dead events")
    def requeue_dead(self, request, queryset):
        selected = queryset.count()
        requeued = outbox.requeue(queryset)
        self._report(request, requeued, selected, "requeued", "not dead")

    @admin.action(permissions=["change"], description="Mark pending events dead")
    def mark_dead(self, request, queryset):
        selected = queryset.count()
        marked = outbox.kill(queryset, f"marked dead by {request.user.get_username()}")
        self._report(request, marked, selected, "marked dead", "not pending")
