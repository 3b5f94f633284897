"""An OMS token never crosses the network in clear unless store IT says so."""

from __future__ import annotations

import pytest

from config import load_settings
from config.errors import ConfigError
from tests.factories import write_config

TOKEN = "tok-5f2a9c81e7"


def _config(tmp_path, url: str, extra: str = "") -> object:
    path = write_config(tmp_path)
    text = path.read_text().replace('url = "http://127.0.0.1:9"', f'url = "{url}"{extra}')
    text = text.replace('token = "', f'token = "{TOKEN}', 1) if 'token = "' in text else text
    path.write_text(text)
    return path


def test_http_url_with_a_token_is_refused_without_echoing_the_token(tmp_path):
    path = _config(tmp_path, "http://oms.store.lan")
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={})
    said = " ".join(refused.value.problems)
    assert "http://" in said and "allow_insecure_http" in said and TOKEN not in said


@pytest.mark.parametrize(("url", "extra"), [
    ("http://oms.store.lan", "\nallow_insecure_http = true"),
    ("http://127.0.0.1:8080", ""), ("http://localhost:8080", ""), ("http://[::1]:8080", ""),
    ("https://oms.store.lan", ""),
])
def test_allowed_when_said_so_on_this_machine_or_over_https(tmp_path, url, extra):
    assert load_settings(_config(tmp_path, url, extra), environ={}).oms.url == url
