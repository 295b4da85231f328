"""The notebook tests reuse the web tests' shared server and the browser tests' Chromium."""

from tests.browser.conftest import browser, page  # noqa: F401 - fixtures
from tests.web.conftest import server  # noqa: F401 - fixture
