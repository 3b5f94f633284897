"""config init's commented template and docs/configuration.md, both generated from the models.

The field docstrings in config.settings are the single source of every key's
description, so the template, the documentation and the validation agree.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from config.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings

# Values for the template where the model has no useful default.
_EXAMPLES: dict[str, object] = {
    "store_id": "S042",
    "oms.token": "change-me",
    "associates": [
        {"id": "A100", "name": "Dana", "role": "associate"},
        {"id": "M1", "name": "Morgan", "role": "manager"},
    ],
    "printers": [
        {"id": "counter", "kind": "network", "address": "192.168.10.50:9100",
         "profile": "TM-T88V"},
    ],
    "stations": [{"id": "backroom-1", "scanner": "keyboard", "printer": "counter"}],
}


def _toml_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return '"change-me"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _default_of(field: FieldInfo) -> dict[str, Any]:
    """The default of a dict field (built by its default_factory)."""
    default = field.get_default(call_default_factory=True)
    return dict(default) if isinstance(default, dict) else {}


def _examples(name: str) -> list[dict[str, Any]]:
    entries = _EXAMPLES.get(name, [])
    return entries if isinstance(entries, list) else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model_of(item)
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names) + " (optional)"
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path",
            SecretStr: "secret string"}.get(annotation, getattr(annotation, "__name__", "value"))


def _scalar_lines(model: type[BaseModel], prefix: str, instance: BaseModel | None) -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        if _model_of(field.annotation) or _list_item_model(field.annotation):
            continue
        if typing.get_origin(field.annotation) is dict:
            continue
        key = f"{prefix}{name}"
        # A description may span lines: each stays a comment, or the template is not TOML.
        out += [f"# {line.strip()}" for line in (field.description or "").splitlines()]
        example = _EXAMPLES.get(key)
        default = getattr(instance, name, None) if instance is not None else None
        if example is not None:
            out.append(f"{name} = {_toml_value(example)}")
        elif default is None:
            out.append(f"# {name} =")
        else:
            out.append(f"{name} = {_toml_value(default)}")
    return out


def render_template() -> str:
    lines = [
        "# store-agent configuration. Precedence: command-line flags, then STORE_AGENT_*",
        f"# variables (nested keys joined with {ENV_NESTED_DELIMITER!r}, e.g. STORE_AGENT_OMS__URL),"
        " then this file.",
        "# Every key is documented in docs/configuration.md; unknown keys are errors.",
        "",
    ]
    lines += _scalar_lines(Settings, "", None)
    for name, field in Settings.model_fields.items():
        sub = _model_of(field.annotation)
        item = _list_item_model(field.annotation)
        if sub is not None:
            lines += ["", f"# {field.description}", f"[{name}]"]
            lines += _scalar_lines(sub, f"{name}.", sub())
            # One level deeper, e.g. [oms.medusa]: tables whose keys only matter in one mode.
            for inner_name, inner in sub.model_fields.items():
                inner_model = _model_of(inner.annotation)
                if inner_model is not None:
                    lines += ["", f"# {inner.description}", f"[{name}.{inner_name}]"]
                    lines += _scalar_lines(inner_model, f"{name}.{inner_name}.", inner_model())
        elif typing.get_origin(field.annotation) is dict:
            lines += ["", f"# {field.description}", f"[{name}]"]
            for k, v in _default_of(field).items():
                lines.append(f"{k} = {_toml_value(v)}")
        elif item is not None:
            for entry in _examples(name):
                lines += ["", f"# {field.description}", f"[[{name}]]"]
                for key, value in entry.items():
                    lines.append(f"{key} = {_toml_value(value)}"
                                 f"  # {item.model_fields[key].description}")
    return "\n".join(lines) + "\n"


def _env(path: str) -> str:
    return ENV_PREFIX + path.replace(".", ENV_NESTED_DELIMITER).upper()


def _doc_rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    instance = model() if model is not Settings else None
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if _model_of(field.annotation):
            continue
        item = _list_item_model(field.annotation)
        if item is not None:
            rows.append(f"| `[[{key}]]` | list of tables | | {field.description} | `{_env(key)}`"
                        " (JSON) |")
            for sub_name, sub in item.model_fields.items():
                default = "" if sub.is_required() else f"`{_toml_value(sub.default)}`"
                if sub.default is None:
                    default = ""
                rows.append(f"| `{key}[].{sub_name}` | {_type_name(sub.annotation)} | {default}"
                            f" | {sub.description} | |")
            continue
        if instance is not None:
            value = getattr(instance, name)
            # A | inside a table cell ends the cell, even in a code span, unless escaped (GFM).
            default = "" if value is None else f"`{_toml_value(value)}`".replace("|", "\\|")
        elif typing.get_origin(field.annotation) is dict:
            default = "see below"
        else:
            default = "required" if field.is_required() else ""
        rows.append(f"| `{key}` | {_type_name(field.annotation)} | {default} |"
                    f" {field.description} | `{_env(key)}` |")
    return rows


def render_docs() -> str:
    out = [
        "# Configuration",
        "",
        "<!-- Generated by `store-agent config docs` from config/settings.py; do not edit. -->",
        "",
        "The agent reads one TOML file: `--config PATH`, else `$STORE_AGENT_CONFIG`, else",
        "`/etc/store-agent/config.toml`, then the `*.toml` drop-ins of `config.d/` beside it in",
        "name order (`/etc/store-agent/config.d/10-fleet.toml`): tables merge key by key, any",
        "other value (a list of tables such as `[[associates]]` included) replaces the earlier",
        "one whole. Command-line flags win over `STORE_AGENT_*` variables, which win over the",
        "files. Nested keys join with `__` in variable names (`STORE_AGENT_OMS__URL`); lists of",
        "tables are given whole, as JSON.",
        "",
        "Secrets: PIN hashes are kept in the store database (`store-agent associate set-pin`),",
        "not here; a `pin_hash` left in a config file is imported once and then only a fallback.",
        "The token can come from `oms.token_file`, the webhook URL from `alerts.webhook_url_file`",
        "or a systemd credential (`LoadCredential=webhook_url:/etc/store-agent/webhook_url` in a",
        "drop-in of the unit). Every file holding a secret must be mode 0600: `doctor` fails",
        "otherwise. The unedited template (`token = \"change-me\"`, the host `oms.example.com`)",
        "fails `config check` and `doctor`.",
        "",
        "Every table rejects unknown keys. `store-agent config check` validates a file and",
        "prints one line per problem, naming the file, the key and the variable that would",
        "override it, and never the value (it may be a secret). Exit code 2 on any problem.",
        "`store-agent config init PATH` writes a commented template.",
        "",
        "| key | type | default | meaning | variable |",
        "|---|---|---|---|---|",
    ]
    out += _doc_rows(Settings, "")
    for name, field in Settings.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None:
            out += ["", f"## `[{name}]`: {field.description}", "",
                    "| key | type | default | meaning | variable |", "|---|---|---|---|---|"]
            out += _doc_rows(sub, f"{name}.")
            for inner_name, inner in sub.model_fields.items():
                inner_model = _model_of(inner.annotation)
                if inner_model is not None:
                    out += ["", f"### `[{name}.{inner_name}]`: {inner.description}", "",
                            "| key | type | default | meaning | variable |", "|---|---|---|---|---|"]
                    out += _doc_rows(inner_model, f"{name}.{inner_name}.")
    out += ["", "## `[status_map]` default", "",
            "A status missing from the map is quarantined and alerted, never guessed.", "",
            "| OMS status | store state |", "|---|---|"]
    out += [f"| `{k}` | `{v}` |" for k, v in _default_of(Settings.model_fields["status_map"]).items()]
    return "\n".join(out) + "\n"
