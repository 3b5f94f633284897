"""Finding, reading and validating config.toml, with precise, secret-free errors.

Precedence (highest first): command-line flags, ``STORE_AGENT_*`` variables
(``__`` between nested keys), the TOML file. The file is ``--config PATH``,
else ``$STORE_AGENT_CONFIG``, else ``/etc/store-agent/config.toml``.

pydantic's own messages echo the offending input, which may be a token or a
PIN hash, so problems are rebuilt here from the error's location and type
only: file, key path, what is wrong, and the variable that would override it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

from config.errors import ConfigError
from config.settings import (
    DEFAULT_CONFIG_PATH,
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    Settings,
)


def resolve_config_path(cli_path: str | os.PathLike | None, environ: Mapping[str, str]) -> Path:
    if cli_path:
        return Path(cli_path)
    from_env = environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file (give --config PATH or set {ENV_PREFIX}CONFIG;"
            " `store-agent config init` writes one)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # The message names line and column and never quotes the value.
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _settings_class_for(file_data: dict[str, Any], environ: Mapping[str, str]) -> type[Settings]:
    """A Settings subclass whose sources are this call's flags, environment and file."""

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        ):
            from pydantic_settings import EnvSettingsSource

            env = EnvSettingsSource(
                settings_cls,
                env_prefix=ENV_PREFIX,
                env_nested_delimiter=ENV_NESTED_DELIMITER,
                case_sensitive=False,
            )
            env.env_vars = {k.lower(): v for k, v in environ.items()}
            return (init_settings, env, _DictSource(settings_cls, file_data))

    _Loaded.__name__ = "Settings"
    return _Loaded


def env_var_for(loc: tuple[Any, ...]) -> str:
    """The variable that overrides a key: lists are overridden whole, as JSON."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            break
        parts.append(str(item).upper())
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(parts) if parts else ENV_PREFIX + "*"


def key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += ("." if out else "") + str(item)
    return out or "(top level)"


def _problem_lines(path: Path, error: ValidationError) -> list[str]:
    lines = []
    for err in error.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            what = "unknown key (a typo? see `store-agent config init` for every key)"
        elif kind == "missing":
            what = "required key is missing"
        else:
            what = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {key_path(loc)}: {what} (override: {env_var_for(loc)})")
    return lines


def load_settings(
    path: str | os.PathLike | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the configuration, or raise ConfigError with one line per problem."""
    environ = os.environ if environ is None else environ
    config_path = resolve_config_path(path, environ)
    file_data = read_toml(config_path)
    cls = _settings_class_for(file_data, environ)
    try:
        settings = cls(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_problem_lines(config_path, exc)) from None
    except SettingsError as exc:
        # A variable holding a list or table (STORE_AGENT_ASSOCIATES) that is not JSON;
        # the message names the field, never the value, which may hold a PIN hash.
        raise ConfigError(_env_json_problem(exc)) from None
    _check_token(config_path, settings)
    settings.__dict__["source_path"] = config_path
    return settings


def _env_json_problem(exc: SettingsError) -> str:
    match = re.search(r'field "([^"]+)"', str(exc))
    field = match.group(1) if match else "*"
    var = ENV_PREFIX + field.upper().replace(".", ENV_NESTED_DELIMITER)
    return f"{var}: not valid JSON (a list or table variable is given whole, as JSON)"


def _check_token(path: Path, settings: Settings) -> None:
    if settings.oms.token is None and settings.oms.token_file is None:
        raise ConfigError(
            f"{path}: oms.token: set oms.token or oms.token_file"
            f" (override: {ENV_PREFIX}OMS__TOKEN)"
        )
    if settings.oms.token_file is not None:
        try:
            if not settings.oms.token_file.read_text(encoding="utf-8").strip():
                raise ConfigError(f"{path}: oms.token_file: {settings.oms.token_file} is empty")
        except OSError as exc:
            raise ConfigError(
                f"{path}: oms.token_file: cannot read {settings.oms.token_file} ({exc.strerror})"
                f" (override: {ENV_PREFIX}OMS__TOKEN_FILE)"
            ) from None
