"""Finding, reading and validating config.toml, with precise, secret-free errors.

Precedence (highest first): command-line flags, ``STORE_AGENT_*`` variables
(``__`` between nested keys), the drop-ins, the TOML file. The file is ``--config PATH``,
else ``$STORE_AGENT_CONFIG``, else ``/etc/store-agent/config.toml``. Drop-ins are the
``*.toml`` files of ``config.d/`` beside it, merged in name order: tables merge key by key,
any other value (arrays such as ``[[associates]]`` included) replaces the earlier one whole,
so a config-management tool can own a file without touching store IT's.

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
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

from config.errors import ConfigError
from config.settings import (
    DEFAULT_CONFIG_PATH,
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    Settings,
)


def resolve_config_path(cli_path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
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


def drop_in_dir(config_path: Path) -> Path:
    return config_path.parent / "config.d"


def drop_in_files(config_path: Path) -> list[Path]:
    folder = drop_in_dir(config_path)
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def _merge(base: dict[str, Any], extra: dict[str, Any], origin: dict[tuple[str, ...], Path],
           source: Path, prefix: tuple[str, ...] = ()) -> None:
    for key, value in extra.items():
        where = (*prefix, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, origin, source, where)
        else:
            base[key] = value
            origin[where] = source


def read_with_drop_ins(config_path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], Path]]:
    """The file merged with its drop-ins, and which file set each key (for error messages)."""
    data = read_toml(config_path)
    origin: dict[tuple[str, ...], Path] = {}
    for drop_in in drop_in_files(config_path):
        _merge(data, read_toml(drop_in), origin, drop_in)
    return data, origin


def _file_of(loc: tuple[Any, ...], origin: dict[tuple[str, ...], Path], default: Path) -> Path:
    keys = tuple(str(k) for k in loc if not isinstance(k, int))
    for n in range(len(keys), 0, -1):
        if keys[:n] in origin:
            return origin[keys[:n]]
    return default


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str
                        ) -> tuple[Any, str, bool]:  # pragma: no cover - unused by __call__
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _settings_class_for(file_data: dict[str, Any], environ: Mapping[str, str]) -> type[Settings]:
    """A Settings subclass whose sources are this call's flags, environment and file."""

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
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


def _problem_lines(path: Path, error: ValidationError,
                   origin: dict[tuple[str, ...], Path] | None = None) -> list[str]:
    lines = []
    for err in error.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        file = _file_of(loc, origin or {}, path)
        kind = err["type"]
        if kind == "extra_forbidden":
            what = "unknown key (a typo? see `store-agent config init` for every key)"
        elif kind == "missing":
            what = "required key is missing"
        else:
            what = err["msg"].removeprefix("Value error, ")
        lines.append(f"{file}: {key_path(loc)}: {what} (override: {env_var_for(loc)})")
    return lines


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the configuration, or raise ConfigError with one line per problem."""
    environ = os.environ if environ is None else environ
    config_path = resolve_config_path(path, environ)
    file_data, origin = read_with_drop_ins(config_path)
    cls = _settings_class_for(file_data, environ)
    try:
        settings = cls(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_problem_lines(config_path, exc, origin)) from None
    except SettingsError as exc:
        # A variable holding a list or table (STORE_AGENT_ASSOCIATES) that is not JSON;
        # the message names the field, never the value, which may hold a PIN hash.
        raise ConfigError(_env_json_problem(exc)) from None
    _check_token(config_path, settings)
    _check_webhook_file(config_path, settings)
    settings.__dict__["source_path"] = config_path
    settings.__dict__["drop_ins"] = drop_in_files(config_path)
    settings.__dict__["credentials_dir"] = environ.get("CREDENTIALS_DIRECTORY") or None
    return settings


# Values the template ships with: a store still running on them was never configured.
TEMPLATE_TOKEN = "change-me"
TEMPLATE_HOST = "oms.example.com"


def template_placeholders(settings: Settings) -> list[str]:
    """What is still as `config init` wrote it; `config check` and `doctor` fail on any."""
    path = source_path(settings)
    found = []
    token = settings.oms.token.get_secret_value() if settings.oms.token is not None else None
    if token == TEMPLATE_TOKEN:
        found.append(f"{path}: oms.token: still the template's {TEMPLATE_TOKEN!r}: set this store's"
                     f" token (or oms.token_file) (override: {ENV_PREFIX}OMS__TOKEN)")
    if re.match(rf"^https?://{re.escape(TEMPLATE_HOST)}(:\d+)?$", settings.oms.url):
        found.append(f"{path}: oms.url: still the template's example host {TEMPLATE_HOST}: set the"
                     f" OMS address (override: {ENV_PREFIX}OMS__URL)")
    return found


def _check_webhook_file(path: Path, settings: Settings) -> None:
    source = settings.alerts.webhook_url_file
    if source is None:
        return
    try:
        text = source.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: alerts.webhook_url_file: cannot read {source} ({exc.strerror})"
                          f" (override: {ENV_PREFIX}ALERTS__WEBHOOK_URL_FILE)") from None
    if not re.match(r"^https?://[^\s/]+", text):
        raise ConfigError(f"{path}: alerts.webhook_url_file: {source} does not hold an http(s) URL")


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


def source_path(settings: Settings) -> Path:
    """The file ``settings`` was loaded from (the default path for settings built in code)."""
    path = settings.__dict__.get("source_path", DEFAULT_CONFIG_PATH)
    return Path(path)


def drop_ins(settings: Settings) -> list[Path]:
    """The config.d drop-ins read after it, in order."""
    return [Path(p) for p in settings.__dict__.get("drop_ins", [])]
