"""Tests for dengage_django.tracking.device: device_for() and is_bot()."""

import pytest
from django.test import override_settings

from dengage_django.conf import dengage_settings
from dengage_django.exceptions import DengageConfigurationError
from dengage_django.tracking import device
from dengage_django.tracking.device import device_for, is_bot

PC, MOBILE, TABLET = "PC", "MOBILE", "TABLET"

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/12.1.2 Mobile/15E148 Safari/604.1"
)

# (label, User-Agent, device, bot)
USER_AGENTS = [
    # Desktop browsers.
    ("chrome-windows", CHROME_WINDOWS, PC, False),
    (
        "firefox-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        PC,
        False,
    ),
    (
        "edge-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
        PC,
        False,
    ),
    (
        "ie11-windows-tablet-pc",
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; SLCC2; .NET CLR 2.0.50727; "
        "Media Center PC 6.0; Tablet PC 2.0; rv:11.0) like Gecko",
        PC,
        False,
    ),
    ("safari-macos", SAFARI_MAC, PC, False),
    (
        "chrome-macos",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        PC,
        False,
    ),
    (
        "firefox-linux",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        PC,
        False,
    ),
    (
        "opera-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
        PC,
        False,
    ),
    (
        "chrome-chromeos",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        PC,
        False,
    ),
    # Phones.
    ("safari-iphone", SAFARI_IPHONE, MOBILE, False),
    (
        "chrome-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        MOBILE,
        False,
    ),
    (
        "facebook-in-app-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/452.0.0.41.109;FBBV/563112018]",
        MOBILE,
        False,
    ),
    (
        "ipod-touch",
        "Mozilla/5.0 (iPod touch; CPU iPhone OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/12.1.2 Safari/604.1",
        MOBILE,
        False,
    ),
    ("chrome-android-reduced", ANDROID_PHONE, MOBILE, False),
    (
        "samsung-galaxy-s23",
        "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        MOBILE,
        False,
    ),
    (
        "xiaomi-redmi-miui",
        "Mozilla/5.0 (Linux; U; Android 12; en-us; Redmi Note 11 Build/SKQ1.211103.001) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 "
        "Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.5.1-gn",
        MOBILE,
        False,
    ),
    (
        "huawei-browser",
        "Mozilla/5.0 (Linux; Android 10; HarmonyOS; ELS-NX9; HMSCore 6.13.0.302) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.196 "
        "HuaweiBrowser/14.0.5.302 Mobile Safari/537.36",
        MOBILE,
        False,
    ),
    (
        "cubot-x30",
        "Mozilla/5.0 (Linux; Android 11; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.144 Mobile Safari/537.36",
        MOBILE,
        False,
    ),
    (
        "cubot-note-20",
        "Mozilla/5.0 (Linux; Android 10; Cubot Note 20 Build/QP1A.190711.020) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.5993.111 Mobile Safari/537.36",
        MOBILE,
        False,
    ),
    (
        "firefox-android-phone",
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        MOBILE,
        False,
    ),
    (
        "duckduckgo-browser-android",
        "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
        "Chrome/124.0.6367.82 Mobile DuckDuckGo/5 Safari/537.36",
        MOBILE,
        False,
    ),
    (
        "baidu-app-android",
        "Mozilla/5.0 (Linux; Android 10; V1938T Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/76.0.3809.89 Mobile Safari/537.36 T7/12.10 "
        "SP-engine/2.28.0 baiduboxapp/12.10.0.11 (Baidu; P1 10)",
        MOBILE,
        False,
    ),
    (
        "windows-phone-8",
        "Mozilla/5.0 (compatible; MSIE 10.0; Windows Phone 8.0; Trident/6.0; IEMobile/10.0; "
        "ARM; Touch; NOKIA; Lumia 920)",
        MOBILE,
        False,
    ),
    (
        "windows-10-mobile-edge",
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 "
        "Edge/15.15063",
        MOBILE,
        False,
    ),
    (
        "opera-mini-android-presto",
        "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
        MOBILE,
        False,
    ),
    (
        "opera-mini-j2me",
        "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) "
        "Presto/2.5.25 Version/10.54",
        MOBILE,
        False,
    ),
    (
        "blackberry-9900",
        "Mozilla/5.0 (BlackBerry; U; BlackBerry 9900; en) AppleWebKit/534.11+ "
        "(KHTML, like Gecko) Version/7.1.0.346 Mobile Safari/534.11+",
        MOBILE,
        False,
    ),
    (
        "blackberry-9700-midp",
        "BlackBerry9700/5.0.0.351 Profile/MIDP-2.1 Configuration/CLDC-1.1 VendorID/123",
        MOBILE,
        False,
    ),
    # Tablets.
    ("galaxy-tab-s9-chrome", ANDROID_TABLET, TABLET, False),
    (
        "galaxy-tab-a7-samsung-browser",
        "Mozilla/5.0 (Linux; Android 13; SM-T220) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
        TABLET,
        False,
    ),
    (
        "lenovo-tab-m10",
        "Mozilla/5.0 (Linux; Android 11; Lenovo TB-J606F) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/119.0.6045.163 Safari/537.36",
        TABLET,
        False,
    ),
    (
        "firefox-android-tablet",
        "Mozilla/5.0 (Android 13; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
        TABLET,
        False,
    ),
    ("ipad-safari-ios12", IPAD, TABLET, False),
    (
        "ipad-chrome",
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        TABLET,
        False,
    ),
    # iPadOS 13+ Safari sends the Mac User-Agent: indistinguishable, so PC.
    ("ipados-desktop-mode", SAFARI_MAC, PC, False),
    (
        "kindle-fire-silk",
        "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Silk/124.2.1 like Chrome/124.0.6367.82 Safari/537.36",
        TABLET,
        False,
    ),
    (
        "kindle-fire-silk-mobile-mode",
        "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/535.19 "
        "(KHTML, like Gecko) Silk/3.68 Mobile Safari/535.19 Silk-Accelerated=true",
        TABLET,
        False,
    ),
    (
        "kindle-fire-silk-desktop-mode",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 "
        "like Chrome/124.0.6367.82 Safari/537.36",
        TABLET,
        False,
    ),
    (
        "kindle-e-reader",
        "Mozilla/5.0 (X11; U; Linux armv7l like Android; en-us) AppleWebKit/531.2+ "
        "(KHTML, like Gecko) Version/5.0 Safari/531.2+ Kindle/3.0+",
        TABLET,
        False,
    ),
    (
        "blackberry-playbook",
        "Mozilla/5.0 (PlayBook; U; RIM Tablet OS 2.1.0; en-US) AppleWebKit/536.2+ "
        "(KHTML, like Gecko) Version/7.2.1.0 Safari/536.2+",
        TABLET,
        False,
    ),
    # Android apps' HTTP stack: not a bot (it is how real customers' apps talk).
    ("okhttp", "okhttp/4.12.0", PC, False),
    # Search engines.
    (
        "googlebot",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        PC,
        True,
    ),
    (
        "googlebot-smartphone",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36 "
        "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        MOBILE,
        True,
    ),
    (
        "bingbot",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        PC,
        True,
    ),
    (
        "yandexbot",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        PC,
        True,
    ),
    (
        "yandex-images",
        "Mozilla/5.0 (compatible; YandexImages/3.0; +http://yandex.com/bots)",
        PC,
        True,
    ),
    (
        "baiduspider",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        PC,
        True,
    ),
    ("duckduckbot", "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", PC, True),
    (
        "yahoo-slurp",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        PC,
        True,
    ),
    # Link previews and social networks.
    (
        "facebookexternalhit",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        PC,
        True,
    ),
    ("twitterbot", "Twitterbot/1.0", PC, True),
    (
        "linkedinbot",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        PC,
        True,
    ),
    # SEO tools and AI crawlers.
    (
        "applebot",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 "
        "(Applebot/0.1; +http://www.apple.com/go/applebot)",
        PC,
        True,
    ),
    (
        "ahrefsbot",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        PC,
        True,
    ),
    (
        "semrushbot",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        PC,
        True,
    ),
    ("mj12bot", "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", PC, True),
    (
        "petalbot",
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        MOBILE,
        True,
    ),
    (
        "gptbot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        PC,
        True,
    ),
    (
        "claudebot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        PC,
        True,
    ),
    ("ccbot", "CCBot/2.0 (https://commoncrawl.org/faq/)", PC, True),
    (
        "bytespider",
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        MOBILE,
        True,
    ),
    # Headless browsers, audits, monitors.
    (
        "headless-chrome",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.6367.60 Safari/537.36",
        PC,
        True,
    ),
    (
        "phantomjs",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
        "PhantomJS/2.1.1 Safari/538.1",
        PC,
        True,
    ),
    (
        "chrome-lighthouse",
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        MOBILE,
        True,
    ),
    ("pingdom", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", PC, True),
    (
        "uptimerobot",
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        PC,
        True,
    ),
    ("statuscake", f"{CHROME_WINDOWS} (StatusCake)", PC, True),
    # HTTP libraries and command-line tools.
    ("curl", "curl/8.7.1", PC, True),
    ("wget", "Wget/1.21.4", PC, True),
    ("python-requests", "python-requests/2.31.0", PC, True),
    ("python-urllib", "Python-urllib/3.11", PC, True),
    ("aiohttp", "Python/3.12 aiohttp/3.9.5", PC, True),
    ("httpx", "python-httpx/0.27.0", PC, True),
    ("go-http-client", "Go-http-client/2.0", PC, True),
    ("java", "Java/17.0.10", PC, True),
    ("libwww-perl", "libwww-perl/6.72", PC, True),
    ("scrapy", "Scrapy/2.11.1 (+https://scrapy.org)", PC, True),
    # Unknown bots caught by the generic words.
    ("generic-bot", "Mozilla/5.0 (compatible; AcmePriceBot/1.0)", PC, True),
    ("generic-crawler", "AcmeCrawler/2.3 (+https://acme.example/crawler)", PC, True),
    ("generic-spider", "acme-spider/0.1", PC, True),
]


def _ids(cases):
    return [case[0] for case in cases]


each_user_agent = pytest.mark.parametrize(
    ("label", "user_agent", "expected", "bot"), USER_AGENTS, ids=_ids(USER_AGENTS)
)


def test_table_is_big_enough_and_labels_unique():
    assert len(USER_AGENTS) >= 40
    assert len(set(_ids(USER_AGENTS))) == len(USER_AGENTS)


@each_user_agent
def test_device_for(label, user_agent, expected, bot):
    assert device_for(user_agent) == expected


@each_user_agent
def test_is_bot(label, user_agent, expected, bot):
    assert is_bot(user_agent) is bot


@each_user_agent
def test_uncached_functions_agree(label, user_agent, expected, bot):
    assert device._browser_device.__wrapped__(user_agent) == expected
    assert device._known_bot.__wrapped__(user_agent) is bot


@pytest.mark.parametrize("user_agent", [None, "", "   ", "\t\r\n"])
def test_missing_user_agent_is_a_pc_and_a_bot(user_agent):
    assert device_for(user_agent) == PC
    assert is_bot(user_agent) is True


def test_defaults():
    assert dengage_settings.APP_USER_AGENTS == {}
    assert dengage_settings.TRACK_BOTS is False
    assert tuple(dengage_settings.BOT_USER_AGENTS) == ()


# --- DENGAGE_APP_USER_AGENTS ---------------------------------------------

APP_IOS = "MyShopApp-iOS/3.2.0 (iPhone; iOS 17.4.1; Scale/3.00)"
APP_IPAD = "MyShopApp-iOS/3.2.0 (iPad; iPadOS 17.4; Scale/2.00)"
APP_ANDROID = "MyShopApp-Android/3.2.0 (Linux; Android 14; SM-S911B) Mobile"
APP_WEBVIEW = f"{ANDROID_PHONE} MyShopApp-Android/3.2.0"


@pytest.fixture
def shop_apps(settings):
    settings.DENGAGE_APP_USER_AGENTS = {
        "IOS": [r"\bMyShopApp-iOS/"],
        "ANDROID": [r"\bMyShopApp-Android/"],
    }
    return settings


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [(APP_IOS, "IOS"), (APP_IPAD, "IOS"), (APP_ANDROID, "ANDROID"), (APP_WEBVIEW, "ANDROID")],
)
def test_app_user_agents(shop_apps, user_agent, expected):
    assert device_for(user_agent) == expected


def test_app_user_agents_leave_browsers_alone(shop_apps):
    assert device_for(SAFARI_IPHONE) == MOBILE
    assert device_for(ANDROID_TABLET) == TABLET
    assert device_for(CHROME_WINDOWS) == PC


def test_app_user_agents_without_setting_fall_back_to_browser_rules():
    assert device_for(APP_IOS) == MOBILE
    assert device_for(APP_IPAD) == TABLET
    assert device_for(APP_WEBVIEW) == MOBILE


def test_app_user_agents_honour_changes_after_a_cached_lookup(settings):
    assert device_for(APP_WEBVIEW) == MOBILE
    settings.DENGAGE_APP_USER_AGENTS = {"ANDROID": [r"MyShopApp-Android"]}
    assert device_for(APP_WEBVIEW) == "ANDROID"
    settings.DENGAGE_APP_USER_AGENTS = {}
    assert device_for(APP_WEBVIEW) == MOBILE


def test_override_settings_is_honoured_after_cached_lookups():
    assert device_for(APP_WEBVIEW) == MOBILE
    assert is_bot(APP_WEBVIEW) is False
    with override_settings(
        DENGAGE_APP_USER_AGENTS={"ANDROID": [r"MyShopApp-Android/"]},
        DENGAGE_BOT_USER_AGENTS=[r"MyShopApp-Android/"],
    ):
        assert device_for(APP_WEBVIEW) == "ANDROID"
        assert is_bot(APP_WEBVIEW) is True
    assert device_for(APP_WEBVIEW) == MOBILE
    assert is_bot(APP_WEBVIEW) is False


def test_app_user_agents_ios_is_tried_before_android(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"ANDROID": [r"MyShopApp"], "IOS": [r"MyShopApp"]}
    assert device_for(APP_ANDROID) == "IOS"


def test_app_user_agents_any_pattern_in_the_list_matches(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"IOS": [r"^Nothing", r"ShopKit/\d"]}
    assert device_for("ShopKit/7 CFNetwork/1494.0.7 Darwin/23.4.0") == "IOS"


def test_app_user_agents_patterns_are_case_sensitive_as_written(settings):
    lowered = APP_IOS.replace("MyShopApp-iOS", "myshopapp-ios")
    settings.DENGAGE_APP_USER_AGENTS = {"IOS": [r"MyShopApp-iOS"]}
    assert device_for(lowered) == MOBILE
    settings.DENGAGE_APP_USER_AGENTS = {"IOS": [r"(?i)MyShopApp-iOS"]}
    assert device_for(lowered) == "IOS"


def test_app_user_agents_accepts_a_lone_string(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"IOS": r"MyShopApp-iOS/"}
    assert device_for(APP_IOS) == "IOS"


def test_app_user_agents_only_see_the_clipped_user_agent(settings):
    settings.DENGAGE_APP_USER_AGENTS = {"ANDROID": [r"MyShopApp-Android/"]}
    padded = ANDROID_PHONE + " " + "x" * device.MAX_USER_AGENT_CHARS + " MyShopApp-Android/3"
    assert device_for(padded) == MOBILE


@pytest.mark.parametrize(
    "value",
    [
        {"WINDOWS": [r"MyShopApp"]},
        {"ios": [r"MyShopApp"]},
        {"IOS": [r"MyShopApp("]},
        {"IOS": [42]},
        [r"MyShopApp"],
    ],
)
def test_app_user_agents_misconfigured(settings, value):
    settings.DENGAGE_APP_USER_AGENTS = value
    with pytest.raises(DengageConfigurationError):
        device_for(APP_IOS)


# --- DENGAGE_BOT_USER_AGENTS ---------------------------------------------

MONITOR = f"{CHROME_WINDOWS} AcmeSynthetic/1.0"


def test_bot_user_agents(settings):
    assert is_bot(MONITOR) is False
    settings.DENGAGE_BOT_USER_AGENTS = [r"AcmeSynthetic/"]
    assert is_bot(MONITOR) is True
    assert is_bot(CHROME_WINDOWS) is False
    settings.DENGAGE_BOT_USER_AGENTS = ()
    assert is_bot(MONITOR) is False


def test_bot_user_agents_any_pattern_and_lone_string(settings):
    settings.DENGAGE_BOT_USER_AGENTS = (r"^Nope", r"Synthetic/\d")
    assert is_bot(MONITOR) is True
    settings.DENGAGE_BOT_USER_AGENTS = r"AcmeSynthetic"
    assert is_bot(MONITOR) is True


def test_bot_user_agents_do_not_change_the_device(settings):
    settings.DENGAGE_BOT_USER_AGENTS = [r"iPhone"]
    assert is_bot(SAFARI_IPHONE) is True
    assert device_for(SAFARI_IPHONE) == MOBILE


def test_bot_user_agents_bad_regex(settings):
    settings.DENGAGE_BOT_USER_AGENTS = [r"[unclosed"]
    with pytest.raises(DengageConfigurationError, match="DENGAGE_BOT_USER_AGENTS"):
        is_bot(CHROME_WINDOWS)


# --- Odd input -------------------------------------------------------------


def test_huge_user_agent_only_the_head_is_read():
    huge = SAFARI_IPHONE + " " + "a" * 100_000
    assert len(huge) > 100_000
    assert device_for(huge) == MOBILE
    assert is_bot(huge) is False
    # A token after the first MAX_USER_AGENT_CHARS characters is not seen.
    tail_bot = CHROME_WINDOWS + " " * 100_000 + " Googlebot/2.1"
    assert is_bot(tail_bot) is False
    tail_tablet = CHROME_WINDOWS + " " * 100_000 + " iPad"
    assert device_for(tail_tablet) == PC


def test_huge_user_agent_bot_token_in_the_head_is_seen():
    huge = "Googlebot/2.1 " + "b" * 100_000
    assert is_bot(huge) is True


def test_non_ascii_and_nul_characters():
    ua = (
        "Mozilla/5.0 (Linux; Android 13; Téléphone\x00 Ünïcødé 手机 📱) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36\x00\x00"
    )
    assert device_for(ua) == MOBILE
    assert is_bot(ua) is False
    assert device_for("Googlebot\x00/2.1 — ünïcødé") == PC
    assert is_bot("Googlebot\x00/2.1 — ünïcødé") is True


@pytest.mark.parametrize(
    "user_agent",
    ["\x00", "\ud800\udfff", "é" * 5000, "(" * 3000, "\\", "Mobi" * 600, "bot" * 700, "\u2028"],
)
def test_never_raises_on_odd_strings(user_agent):
    assert device_for(user_agent) in {PC, MOBILE, TABLET}
    assert is_bot(user_agent) in {True, False}


def test_cubot_is_not_a_bot_but_a_cubot_crawler_is():
    assert is_bot("Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) Mobile Safari/537.36") is False
    assert is_bot("Mozilla/5.0 (Linux; Android 12; CUBOT_X30) Mobile (compatible; bingbot/2.0)")
