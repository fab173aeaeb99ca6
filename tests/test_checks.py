"""System checks (``dengage_django.checks``).

Importing the module registers its checks, as ``AppConfig.ready()`` does.
"""

from unittest import mock

import pytest
from django.apps import apps
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.checks import ERROR, INFO, WARNING, run_checks
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder

from dengage_django import checks
from dengage_django.checks import CHECK_IDS, TAG, VALIDATORS
from dengage_django.conf import DEFAULTS
from dengage_django.middleware import DengageMiddleware

SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
OURS = "dengage_django.middleware.DengageMiddleware"

SECRET = "SECRET-7f3c9e21-key-never-shown"


class ShopDengageMiddleware(DengageMiddleware):
    pass


class ShopSessionMiddleware(SessionMiddleware):
    pass


class ShopAuthMiddleware(AuthenticationMiddleware):
    pass


def consent(request):
    return True


NOT_CALLABLE = 42


def dengage_messages(**kwargs):
    return [m for m in run_checks(**kwargs) if (m.id or "").startswith("dengage_django.")]


def dengage_ids(**kwargs):
    return {m.id for m in dengage_messages(**kwargs)}


# -- One situation per check id ----------------------------------------------


def _set(debug=None, **values):
    def apply(settings):
        if debug is not None:
            settings.DEBUG = debug
        for name, value in values.items():
            setattr(settings, "DENGAGE_" + name, value)

    return apply


def _api_key_from_the_environment(settings):
    import os

    del settings.DENGAGE_API_KEY
    os.environ["DENGAGE_API_KEY"] = "from-the-environment"


def _https_only_with_insecure_cookies(settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.DENGAGE_COOKIE_SECURE = False


def _middleware(*entries):
    def apply(settings):
        settings.MIDDLEWARE = list(entries)

    return apply


def _unset_url(debug):
    def apply(settings):
        settings.DEBUG = debug
        del settings.DENGAGE_DATA_CENTER_URL

    return apply


def _unapplied_migration(settings=None):
    recorder = MigrationRecorder(connection)
    for app_label, name in list(recorder.applied_migrations()):
        if app_label == "dengage_django" and name != "0001_initial":
            recorder.record_unapplied(app_label, name)


def _rows_locked_but_not_skipped(settings=None):
    """The outbox's database locks rows but cannot skip locked ones, as
    MariaDB 10.5 (undone by ``_stop_patches``)."""
    mock.patch.object(connection.features, "has_select_for_update", True).start()
    mock.patch.object(connection.features, "has_select_for_update_skip_locked", False).start()


@pytest.fixture(autouse=True)
def _stop_patches():
    """Undo what a scenario patched with ``mock.patch(...).start()``."""
    yield
    mock.patch.stopall()


#: check id -> how to make it fire from the (correct) test settings.
SCENARIOS = {
    "dengage_django.E001": _set(debug=False, API_KEY=""),
    "dengage_django.E002": _unset_url(debug=False),
    "dengage_django.E003": _set(debug=False, ORIGIN="   "),
    "dengage_django.E004": _set(DATA_CENTER_URL="dce1.segmentify.com"),
    "dengage_django.E005": _set(ORIGIN="https://shop.example.com/"),
    "dengage_django.E006": _middleware(OURS, SESSION, COMMON),
    "dengage_django.E007": _middleware(SESSION, OURS, COMMON, AUTH),
    "dengage_django.E008": _set(BATCH_SIZE="100"),
    "dengage_django.E009": _set(EXCLUDED_PATHS=[r"/health/", r"/shop/(unclosed"]),
    "dengage_django.E010": _set(CONSENT="tests.nowhere.consent"),
    "dengage_django.E011": _set(TIMEOUT=0),
    "dengage_django.E012": _set(ID_SOURCE="remote"),
    "dengage_django.E013": _set(BATCH_MAX_BYTES=1000),
    "dengage_django.E014": _set(APP_USER_AGENTS={"iOS": [r"MyShop-iOS/"]}),
    "dengage_django.W001": _set(debug=True, API_KEY=""),
    "dengage_django.W002": _unset_url(debug=True),
    "dengage_django.W003": _set(debug=True, ORIGIN=""),
    "dengage_django.W004": _middleware(SESSION, COMMON, AUTH),
    "dengage_django.W005": _unapplied_migration,
    "dengage_django.W006": _set(LEASE_SECONDS=10),
    "dengage_django.W007": _https_only_with_insecure_cookies,
    "dengage_django.W008": _set(DATA_CENTER_URL="http://dce1.segmentify.com"),
    "dengage_django.W009": _set(FLOOD_CACHE="nowhere"),
    "dengage_django.W010": _rows_locked_but_not_skipped,
    "dengage_django.E015": _set(ORIGIN="https://" + "ğ" * 70 + ".example.com"),
    "dengage_django.E016": _set(PAGE_CATEGORIES={"shop:product": ["a", "b", "c"]}),
    "dengage_django.I001": _api_key_from_the_environment,
}


def test_every_id_has_a_situation():
    assert set(SCENARIOS) == set(CHECK_IDS)


def test_ids_are_well_formed():
    for check_id in CHECK_IDS:
        prefix, _, code = check_id.partition(".")
        assert prefix == "dengage_django"
        assert code[0] in "EWI" and code[1:].isdigit() and len(code) == 4


@pytest.mark.parametrize("check_id", sorted(SCENARIOS))
def test_each_check_fires_alone_in_its_situation(check_id, settings, db, monkeypatch):
    monkeypatch.delenv("DENGAGE_API_KEY", raising=False)
    SCENARIOS[check_id](settings)
    deploy = check_id.split(".")[1][0] == "I"  # infos are --deploy checks
    messages = dengage_messages(tags=[TAG], databases=["default"], include_deployment_checks=deploy)
    if deploy:
        messages = [m for m in messages if m.level == INFO] + [
            m for m in messages if m.level > INFO
        ]
    assert {m.id for m in messages} == {check_id}
    level = {"E": ERROR, "W": WARNING, "I": INFO}[check_id.split(".")[1][0]]
    for message in messages:
        assert message.level == level
        assert message.hint
        assert message.obj is None


def test_the_test_settings_are_a_correct_configuration(db):
    assert dengage_messages(include_deployment_checks=False, databases=["default"]) == []
    [info] = dengage_messages(include_deployment_checks=True, databases=["default"])
    assert info.id == "dengage_django.I001" and info.level == INFO
    assert info.msg == (
        "dengage-django settings: DENGAGE_API_KEY from settings, "
        "DENGAGE_DATA_CENTER_URL from settings, DENGAGE_ORIGIN from settings."
    )


def test_checks_run_without_a_tag_filter(settings):
    settings.DENGAGE_BATCH_SIZE = 0
    assert "dengage_django.E011" in dengage_ids()


def test_checks_for_other_apps_leave_dengage_out(settings):
    settings.DENGAGE_BATCH_SIZE = "many"
    settings.MIDDLEWARE = []
    assert dengage_ids(app_configs=[apps.get_app_config("auth")]) == set()
    assert dengage_ids(app_configs=[apps.get_app_config("dengage_django")]) == {
        "dengage_django.E008",
        "dengage_django.W004",
    }


# -- Credentials and URLs ----------------------------------------------------


def test_missing_credentials_each_have_their_own_id(settings):
    settings.DEBUG = False
    settings.DENGAGE_API_KEY = ""
    settings.DENGAGE_DATA_CENTER_URL = ""
    settings.DENGAGE_ORIGIN = ""
    assert dengage_ids() == {"dengage_django.E001", "dengage_django.E002", "dengage_django.E003"}
    settings.DEBUG = True
    assert dengage_ids() == {"dengage_django.W001", "dengage_django.W002", "dengage_django.W003"}


def test_missing_credentials_are_fine_when_disabled(settings):
    settings.DENGAGE_ENABLED = False
    del settings.DENGAGE_API_KEY
    del settings.DENGAGE_DATA_CENTER_URL
    del settings.DENGAGE_ORIGIN
    assert dengage_ids() == set()


@pytest.mark.parametrize(
    "url, problem",
    [
        ("dce1.segmentify.com", "does not start with http:// or https://"),
        ("ftp://dce1.segmentify.com", "does not start with http:// or https://"),
        ("https://", "has no host"),
        ("https://dce1.segmentify.com/add/events/v1.json", "has a path"),
        ("https://dce1.segmentify.com?x=1", "has a query string"),
        ("https://dce1.segmentify.com/#top", "has a fragment"),
        ("https://user:pw@dce1.segmentify.com", "contains credentials"),
        ("https://dce1.segmentify.com:http", "is not a valid URL"),
        ("https://[::1", "is not a valid URL"),
    ],
)
def test_bad_data_center_urls(settings, url, problem):
    settings.DENGAGE_DATA_CENTER_URL = url
    [message] = dengage_messages()
    assert message.id == "dengage_django.E004"
    assert message.msg == f"DENGAGE_DATA_CENTER_URL {problem}."


@pytest.mark.parametrize(
    "url",
    [
        "https://dce1.segmentify.com",
        "https://dce1.segmentify.com/",
        "http://127.0.0.1:9",
        "HTTPS://DCE1.SEGMENTIFY.COM",
    ],
)
def test_good_data_center_urls(settings, url):
    settings.DENGAGE_DATA_CENTER_URL = url
    assert dengage_ids() == set()


@pytest.mark.parametrize(
    "origin",
    [
        "www.yourshop.com",
        "https://www.yourshop.com/",
        "https://www.yourshop.com/shop",
        "https://www.yourshop.com?a=b",
        "wss://www.yourshop.com",
    ],
)
def test_bad_origins(settings, origin):
    settings.DENGAGE_ORIGIN = origin
    assert dengage_ids() == {"dengage_django.E005"}


@pytest.mark.parametrize("origin", ["https://www.yourshop.com", "http://localhost:8000"])
def test_good_origins(settings, origin):
    settings.DENGAGE_ORIGIN = origin
    assert dengage_ids() == set()


def test_the_api_key_never_appears_in_a_message(settings):
    settings.DEBUG = False
    settings.DENGAGE_API_KEY = SECRET
    settings.DENGAGE_DATA_CENTER_URL = (
        f"https://dce1.segmentify.com/add/events/v1.json?apiKey={SECRET}"
    )
    settings.DENGAGE_ORIGIN = SECRET
    messages = dengage_messages()
    assert {m.id for m in messages} == {"dengage_django.E004", "dengage_django.E005"}
    for message in messages:
        assert SECRET not in str(message)
        assert SECRET not in (message.hint or "")
    assert "has a query string" in messages[0].msg or "has a path" in messages[0].msg


def test_the_api_key_in_the_url_alone_is_not_shown(settings):
    settings.DENGAGE_DATA_CENTER_URL = f"https://dce1.segmentify.com?apiKey={SECRET}"
    [message] = dengage_messages()
    assert message.msg == "DENGAGE_DATA_CENTER_URL has a query string."
    assert SECRET not in str(message)


def test_a_wrongly_typed_secret_is_named_by_type_only(settings):
    settings.DENGAGE_API_KEY = SECRET.encode()
    [message] = dengage_messages()
    assert message.id == "dengage_django.E008"
    assert message.msg == "DENGAGE_API_KEY must be a str, not bytes."
    assert SECRET not in str(message)


# -- Middleware ---------------------------------------------------------------


def test_subclasses_count_as_the_middleware_they_extend(settings):
    here = __name__
    settings.MIDDLEWARE = [
        f"{here}.ShopSessionMiddleware",
        COMMON,
        f"{here}.ShopAuthMiddleware",
        f"{here}.ShopDengageMiddleware",
    ]
    assert dengage_ids() == set()
    settings.MIDDLEWARE = [
        f"{here}.ShopDengageMiddleware",
        f"{here}.ShopSessionMiddleware",
        f"{here}.ShopAuthMiddleware",
    ]
    assert dengage_ids() == {"dengage_django.E006", "dengage_django.E007"}


def test_order_is_only_checked_against_middleware_that_is_present(settings):
    settings.MIDDLEWARE = [OURS, COMMON]
    assert dengage_ids() == set()


def test_unimportable_middleware_entries_do_not_crash(settings):
    settings.MIDDLEWARE = ["tests.nowhere.Middleware", SESSION, AUTH]
    assert dengage_ids() == {"dengage_django.W004"}
    settings.MIDDLEWARE = ["tests.nowhere.Middleware", SESSION, AUTH, OURS]
    assert dengage_ids() == set()


def test_missing_middleware_setting(settings):
    del settings.MIDDLEWARE
    assert [m.id for m in checks.check_middleware()] == ["dengage_django.W004"]


# -- Migrations ---------------------------------------------------------------


def test_migrations_are_only_checked_with_databases(settings):
    assert checks.check_migrations(databases=None) == []
    assert checks.check_migrations(databases=[]) == []


def test_unapplied_migrations_warn(db):
    _unapplied_migration()
    [message] = checks.check_migrations(databases=["default"])
    assert message.id == "dengage_django.W005"
    assert "manage.py migrate dengage_django" in message.hint
    # A plain run (manage.py check) leaves database checks out. (Since Django
    # 6.1, asking for a tag runs that tag's database checks on every alias.)
    assert dengage_messages() == []


def test_applied_migrations_are_quiet(db):
    assert checks.check_migrations(databases=["default"]) == []


def test_an_unreachable_database_is_skipped():
    with mock.patch(
        "dengage_django.checks.MigrationLoader.__init__",
        side_effect=OperationalError("could not connect"),
    ):
        assert checks.check_migrations(databases=["default"]) == []


def test_databases_the_router_keeps_the_app_out_of_are_skipped(db, settings):
    class Elsewhere:
        def allow_migrate(self, db, app_label, **hints):
            return app_label != "dengage_django"

    _unapplied_migration()
    with mock.patch("django.db.router.routers", [Elsewhere()]):
        assert checks.check_migrations(databases=["default"]) == []


# -- Types and values -----------------------------------------------------------


def test_every_setting_has_a_validator():
    assert set(VALIDATORS) == set(DEFAULTS)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_default_is_valid(name):
    assert VALIDATORS[name](name, DEFAULTS[name]) == []


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("API_KEY", None, "a str"),
        ("ENABLED", "yes", "a bool"),
        ("STRICT", 1, "a bool or None"),
        ("DEFAULT_LANG", ["TR"], "a str or None"),
        ("BATCH_SIZE", True, "an int"),
        ("BATCH_SIZE", 100.0, "an int"),
        ("TIMEOUT", "10", "a number"),
        ("LEASE_SECONDS", False, "a number"),
        ("RETENTION_DAYS", "30", "an int or None"),
        ("EXCLUDED_PATHS", "/admin/", "a list or tuple of str or None"),
        ("BOT_USER_AGENTS", None, "a list or tuple of str"),
        ("APP_USER_AGENTS", [("IOS", "x")], 'a dict mapping "IOS"/"ANDROID" to lists of str'),
        ("CONSENT", 3, "None, a callable or a dotted path"),
        ("ID_SOURCE", None, "a str"),
        ("USER_COOKIE_NAME", None, "a str"),
    ],
)
def test_wrong_types(settings, name, value, expected):
    setattr(settings, "DENGAGE_" + name, value)
    messages = [m for m in dengage_messages() if m.id == "dengage_django.E008"]
    assert [m.msg for m in messages] == [
        f"DENGAGE_{name} must be {expected}, not {type(value).__name__}."
    ]


def test_wrong_item_types_name_the_item_type(settings):
    settings.DENGAGE_EXCLUDED_PATHS = ["/admin/", 3]
    [message] = dengage_messages()
    assert message.id == "dengage_django.E008"
    assert message.msg == (
        "DENGAGE_EXCLUDED_PATHS must be a list or tuple of str or None (with only str "
        "items), not int."
    )


def test_an_inconsistent_history_is_reported(db):
    MigrationRecorder(connection).record_unapplied("dengage_django", "0001_initial")
    [message] = checks.check_migrations(databases=["default"])
    assert message.id == "dengage_django.W005"
    assert "1 unapplied" in message.msg


def test_wrong_type_in_app_user_agents_values(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"IOS": "MyShop-iOS/"}
    [message] = dengage_messages()
    assert message.id == "dengage_django.E008"
    assert message.msg == (
        "DENGAGE_APP_USER_AGENTS['IOS'] must be a list or tuple of str, not str."
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("STRICT", None),
        ("STRICT", False),
        ("DEFAULT_CURRENCY", "TRY"),
        ("BATCH_SIZE", 1),
        ("TIMEOUT", 2),
        ("TIMEOUT", 0.5),
        ("RETRY_BASE_DELAY", 0),
        ("TASK_THROTTLE", 0.0),
        ("RETENTION_DAYS", None),
        ("RETENTION_DAYS", 7),
        ("EXCLUDED_PATHS", ()),
        ("EXCLUDED_PATHS", [r"/admin/", r"/api/v\d+/"]),
        ("BOT_USER_AGENTS", [r"MyCrawler/\d"]),
        ("APP_USER_AGENTS", {"IOS": [r"MyShop-iOS/"], "ANDROID": (r"MyShop-Android/",)}),
        ("CONSENT", consent),
        ("CONSENT", f"{__name__}.consent"),
        ("PRODUCT_ADAPTER", lambda obj: {}),
        ("BASKET_ADAPTER", f"{__name__}.ShopAuthMiddleware"),  # a class is callable
        ("ID_SOURCE", "dengage"),
        ("ID_SOURCE", "local"),
    ],
)
def test_good_values(settings, name, value):
    setattr(settings, "DENGAGE_" + name, value)
    assert dengage_ids() == set()


@pytest.mark.parametrize(
    "name, value",
    [
        ("MAX_STRING_LENGTH", 0),
        ("BATCH_SIZE", -1),
        ("MAX_ATTEMPTS", 0),
        ("ID_POOL_SIZE", 0),
        ("CONNECT_TIMEOUT", -0.1),
        ("LEASE_SECONDS", float("nan")),
        ("RETRY_MAX_DELAY", float("inf")),
        ("RETRY_BASE_DELAY", -1),
        ("RETENTION_DAYS", 0),
        ("SESSION_TIMEOUT", 0),
    ],
)
def test_out_of_range_numbers(settings, name, value):
    setattr(settings, "DENGAGE_" + name, value)
    assert "dengage_django.E011" in dengage_ids()


def test_huge_integers_do_not_crash(settings):
    settings.DENGAGE_BATCH_MAX_BYTES = 10**400
    assert dengage_ids() == set()


def test_bad_regexes_are_named_by_position(settings):
    settings.DENGAGE_BOT_USER_AGENTS = [r"ok", r"[unclosed", r"(also"]
    messages = dengage_messages()
    assert [m.id for m in messages] == ["dengage_django.E009"] * 2
    assert messages[0].msg.startswith("DENGAGE_BOT_USER_AGENTS[1] is not a valid regular")
    assert messages[1].msg.startswith("DENGAGE_BOT_USER_AGENTS[2] is not a valid regular")


def test_bad_regexes_in_app_user_agents(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"ANDROID": [r"MyShop-Android/(\d"]}
    [message] = dengage_messages()
    assert message.id == "dengage_django.E009"
    assert message.msg.startswith("DENGAGE_APP_USER_AGENTS['ANDROID'][0] is not a valid")


def test_a_dotted_path_that_is_not_callable(settings):
    settings.DENGAGE_PRODUCT_ADAPTER = f"{__name__}.NOT_CALLABLE"
    [message] = dengage_messages()
    assert message.id == "dengage_django.E010"
    assert "not callable" in message.msg


def test_a_dotted_path_without_a_module(settings):
    settings.DENGAGE_BASKET_ADAPTER = "consent"
    [message] = dengage_messages()
    assert message.id == "dengage_django.E010"
    assert "cannot be imported" in message.msg


def test_a_nonsense_id_source(settings):
    settings.DENGAGE_ID_SOURCE = "Dengage"
    [message] = dengage_messages()
    assert message.id == "dengage_django.E012"


def test_app_user_agents_unknown_keys(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"IOS": [r"a"], "ios": [r"b"], "WINDOWS": [r"c"]}
    [message] = dengage_messages()
    assert message.id == "dengage_django.E014"
    assert message.msg.endswith("'WINDOWS', 'ios'.")


# -- Combinations -----------------------------------------------------------------


def test_an_event_must_fit_in_a_batch(settings):
    settings.DENGAGE_MAX_EVENT_BYTES = 4096
    settings.DENGAGE_BATCH_MAX_BYTES = 4096
    assert dengage_ids() == set()
    settings.DENGAGE_BATCH_MAX_BYTES = 4095
    assert dengage_ids() == {"dengage_django.E013"}


def test_the_lease_must_outlast_a_request(settings):
    settings.DENGAGE_CONNECT_TIMEOUT = 5
    settings.DENGAGE_TIMEOUT = 10
    settings.DENGAGE_LEASE_SECONDS = 15
    assert dengage_ids() == {"dengage_django.W006"}
    settings.DENGAGE_LEASE_SECONDS = 15.5
    assert dengage_ids() == set()


def test_combinations_wait_for_valid_types(settings):
    settings.DENGAGE_BATCH_MAX_BYTES = "1"
    settings.DENGAGE_LEASE_SECONDS = None
    assert dengage_ids() == {"dengage_django.E008"}


@pytest.mark.django_db(transaction=True)
def test_w005_reports_unapplied_migrations_but_not_inside_migrate():
    import io

    from django.core.management import call_command

    call_command("migrate", "dengage_django", "0002", verbosity=0)
    try:
        ids = [m.id for m in checks.check_migrations(databases=["default"])]
        assert ids == ["dengage_django.W005"]
        out = io.StringIO()
        call_command("migrate", "dengage_django", skip_checks=False, stdout=out, stderr=out)
        assert "W005" not in out.getvalue()
    finally:
        call_command("migrate", "dengage_django", verbosity=0)
    assert checks.check_migrations(databases=["default"]) == []


def test_an_international_origin_passes_the_checks(settings, db):
    settings.DENGAGE_ORIGIN = "https://mağaza.example.com.tr"
    assert dengage_ids(tags=[TAG], databases=["default"]) == set()


def test_plain_http_to_this_machine_is_fine(settings, db):
    settings.DENGAGE_DATA_CENTER_URL = "http://127.0.0.1:8765"
    assert "dengage_django.W008" not in dengage_ids(tags=[TAG], databases=["default"])
