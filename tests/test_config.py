"""Configuration: sources, precedence, strict keys, secret-free errors, template and docs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.template import render_docs, render_template

REPO = Path(__file__).resolve().parent.parent
SHARED_EXAMPLE = REPO.parent / "shared" / "config.example.toml"
FIXTURE_EXAMPLE = REPO / "tests" / "fixtures" / "config.example.toml"


@pytest.mark.parametrize("path", [FIXTURE_EXAMPLE, SHARED_EXAMPLE], ids=["fixture", "shared"])
def test_the_promised_example_loads(path):
    if not path.exists():
        assert path == SHARED_EXAMPLE, "the fixture copy of the example must exist"
        # The fixture copy is proven identical (test_fixture_copy_is_the_promised_example).
        path = FIXTURE_EXAMPLE
    s = load_settings(path, environ={})
    assert s.store_id == "S042" and s.pickup.offline_handoff == "warn"
    assert [a.id for a in s.associates] == ["A100", "M1"]
    assert s.default_station == "backroom-1"


# SHA-256 of the promised example as last compared with ../shared: a checkout
# without ../shared beside it still proves its copy is the promised one.
PROMISED_EXAMPLE_SHA256 = "913bcacc0e48a2e348e282ccb9a4aafdd7867fb1656669eefeb2dd6492055f16"


def test_fixture_copy_is_the_promised_example():
    copy = FIXTURE_EXAMPLE.read_bytes()
    if SHARED_EXAMPLE.exists():
        assert copy == SHARED_EXAMPLE.read_bytes(), \
            "the promised example changed: copy it to tests/fixtures and update the hash here"
    assert hashlib.sha256(copy).hexdigest() == PROMISED_EXAMPLE_SHA256, \
        "tests/fixtures/config.example.toml is not the promised example"


def test_precedence_flags_env_file(config_path):
    env = {"STORE_AGENT_SYNC__BATCH_SIZE": "50", "STORE_AGENT_STATION": "backroom-1"}
    s = load_settings(config_path, environ=env)
    assert s.sync.batch_size == 50
    s = load_settings(config_path, environ=env, overrides={"sync": {"batch_size": 7}})
    assert s.sync.batch_size == 7


def test_config_path_from_environment(config_path):
    s = load_settings(None, environ={"STORE_AGENT_CONFIG": str(config_path)})
    assert s.store_id == "S042"


def _problems(tmp_path, text, environ=None):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ or {})
    return info.value.problems, path


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", environ={})
    assert "nope.toml" in str(info.value) and "no such config file" in str(info.value)


def test_toml_syntax_error_names_line(tmp_path):
    problems, path = _problems(tmp_path, 'store_id = "S1"\n[oms\ntoken="x"\n')
    assert len(problems) == 1 and str(path) in problems[0] and "line 2" in problems[0]


def test_unknown_nested_key_and_wrong_type_one_line_each(tmp_path):
    problems, path = _problems(tmp_path, 'store_id = "S1"\n[oms]\ntoken = "tok"\ntimeout_s = "x"\n'
                                         '[sync]\nbatchsize = 3\n[[associates]]\nid="A"\nname="B"\n'
                                         'role="boss"\nbadge_color="red"\n')
    assert len(problems) == 4
    joined = "\n".join(problems)
    assert all(str(path) in p for p in problems)
    assert "sync.batchsize: unknown key" in joined and "STORE_AGENT_SYNC__BATCHSIZE" in joined
    assert "oms.timeout_s" in joined and "STORE_AGENT_OMS__TIMEOUT_S" in joined
    assert "associates[0].role" in joined and "STORE_AGENT_ASSOCIATES" in joined
    assert "associates[0].badge_color: unknown key" in joined


def test_secrets_never_appear_in_errors(tmp_path):
    secret = "s3cr3t-T0KEN-value"
    problems, _ = _problems(
        tmp_path,
        f'store_id = "S1"\n[oms]\ntoken = {{ nested = "{secret}" }}\n[[associates]]\nid="A"\n'
        f'name="B"\npin_hash = ["{secret}"]\n',
        environ={"STORE_AGENT_OMS__TIMEOUT_S": secret},
    )
    assert problems and secret not in "\n".join(problems)


def test_token_or_token_file_required(tmp_path):
    problems, _ = _problems(tmp_path, 'store_id = "S1"\n')
    assert "oms.token" in problems[0]


def test_token_file_is_read_and_checked(tmp_path):
    token = tmp_path / "token"
    token.write_text("from-file\n")
    path = tmp_path / "c.toml"
    path.write_text(f'store_id = "S1"\n[oms]\ntoken_file = "{token}"\n')
    assert load_settings(path, environ={}).oms_token() == "from-file"
    token.unlink()
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert "oms.token_file" in str(info.value)


def test_station_must_reference_known_printer(tmp_path):
    problems, _ = _problems(tmp_path, 'store_id = "S1"\n[oms]\ntoken="t"\n[[stations]]\nid="s1"\n'
                                      'printer="ghost"\n')
    assert "ghost" in problems[0]


@pytest.mark.parametrize("table, value", [("ui", "8470"), ("ui", "handheld:port"), ("ui", "[::1]:70000"),
                                          ("metrics", "9464"), ("metrics", "host:")])
def test_a_listen_address_that_is_not_host_port_is_refused_at_load(tmp_path, table, value):
    """serve-ui and /metrics read their address when they bind; the config check must agree first."""
    problems, _ = _problems(tmp_path, f'store_id = "S1"\n[oms]\ntoken="t"\n[{table}]\nlisten="{value}"\n')
    assert len(problems) == 1 and f"{table}.listen" in problems[0] and "must be host:port" in problems[0]


@pytest.mark.parametrize("table, value", [("ui", "0.0.0.0:8470"), ("ui", "[::1]:0"), ("ui", ":8470"),
                                          ("metrics", ""), ("metrics", "[::]:9464")])
def test_listen_addresses_a_server_can_bind_load(tmp_path, table, value):
    path = tmp_path / "config.toml"
    path.write_text(f'store_id = "S1"\n[oms]\ntoken="t"\n[{table}]\nlisten="{value}"\n')
    assert getattr(load_settings(path, environ={}), table).listen == value


def test_template_loads_and_documents_every_key(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(render_template())
    s = load_settings(path, environ={})
    assert s.store_id == "S042"
    from config.settings import Settings

    text = render_template()
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no docstring"
        assert name in text


def test_docs_configuration_is_generated_and_current():
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == render_docs(), "run: store-agent config docs > docs/configuration.md"
