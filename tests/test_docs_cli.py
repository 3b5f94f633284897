"""docs/cli.md and the argparse tree agree: every command is documented under its own
heading, every flag named in the docs exists (and every flag a command takes is named in
its section), and every default the docs state is the parser's. Adding a command or a
flag without documenting it fails here. The shared contract's commands that are
implemented must take every flag it promises."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from ui.cli.main import build_parser

DOC = REPO / "docs" / "cli.md"
SHARED = REPO.parent / "shared" / "cli.md"
# Given to every command (ui/cli/main.py `common`), documented once at the top of cli.md.
COMMON = {"--json", "--station", "-h", "--help"}
GLOBAL = {"--config", "--version", "--log-format"}


def _leaves(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _leaves(sub, (*prefix, name))
                else:
                    yield " ".join((*prefix, name)), sub


COMMANDS = dict(_leaves(build_parser()))


def _command_of(synopsis: str) -> str:
    words = []
    for word in synopsis.split():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break
        words.append(word)
    return " ".join(words)


def _sections(text: str) -> dict[str, tuple[str, str]]:
    """command -> (synopsis, whole section text) for every `### `synopsis`` heading."""
    out: dict[str, tuple[str, str]] = {}
    parts = re.split(r"^### `([^`]+)`.*$", text, flags=re.M)
    for synopsis, body in zip(parts[1::2], parts[2::2], strict=True):
        body = re.split(r"^## ", body, flags=re.M)[0]
        command = _command_of(synopsis)
        prev = out.get(command, ("", ""))
        out[command] = (prev[0] + " " + synopsis, prev[1] + "\n" + synopsis + "\n" + body)
    return out


SECTIONS = _sections(DOC.read_text())


def _flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


def _parser_flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in parser._actions for opt in a.option_strings if opt.startswith("--")}


def test_every_command_has_a_section_and_every_section_a_command():
    assert set(COMMANDS) - set(SECTIONS) == set(), "commands missing from docs/cli.md"
    assert set(SECTIONS) - set(COMMANDS) == set(), "docs/cli.md documents commands that do not exist"


@pytest.mark.parametrize("command", sorted(SECTIONS))
def test_documented_flags_exist_and_taken_flags_are_documented(command):
    if command not in COMMANDS:
        pytest.skip("reported by the command test")
    synopsis, section = SECTIONS[command]
    taken = set(_parser_flags(COMMANDS[command]))
    named = _flags(synopsis)
    assert named - taken == set(), f"`{command}`: documented flags it does not take"
    undocumented = taken - COMMON - _flags(section)
    assert not undocumented, f"`{command}` takes flags docs/cli.md does not name: {undocumented}"


def test_global_flags_are_documented_and_exist():
    parser_flags = set(_parser_flags(build_parser()))
    intro = DOC.read_text().split("## Exit codes")[0]
    assert parser_flags >= GLOBAL
    assert GLOBAL - _flags(intro) == set(), "global flags missing from the top of docs/cli.md"


def _stated_defaults(synopsis: str, section: str):
    """(flag, stated default) for each `PLACEHOLDER ... (default X)` whose placeholder is a
    flag's argument in the synopsis, e.g. `--dir DIR` ... `in DIR (default `.demo`)`."""
    placeholders = dict((m[1], m[0]) for m in re.findall(r"(--[a-z-]+) ([A-Z][A-Z_]*)", synopsis))
    for name, value in re.findall(r"\b([A-Z][A-Z_]*)\b[^.()]{0,40}?\(default `?([^`)\s]+)`?\)",
                                  section):
        if name in placeholders:
            yield placeholders[name], value


def test_stated_defaults_are_the_parsers():
    checked = 0
    for command, (synopsis, section) in SECTIONS.items():
        if command not in COMMANDS:
            continue
        flags = _parser_flags(COMMANDS[command])
        for flag, value in _stated_defaults(synopsis, section):
            assert flag in flags, f"`{command}`: default stated for {flag}, which it does not take"
            assert str(flags[flag].default) == value, (
                f"`{command} {flag}`: docs say default {value}, the parser has {flags[flag].default!r}")
            checked += 1
    assert checked >= 2  # the check itself must keep finding the defaults it is about


def test_our_copy_of_the_api_names_the_simulators_real_port():
    port = _parser_flags(COMMANDS["oms-sim"])["--port"].default
    text = (REPO / "docs" / "store-sync-api.md").read_text()
    stated = re.findall(r"oms-sim \[[^\n]*--port (\d+)", text)
    assert stated and all(int(p) == port for p in stated), (stated, port)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside this checkout")
def test_the_shared_contracts_flags_exist_where_the_command_is_implemented():
    missing = {}
    for synopsis in re.findall(r"^\| `([^`|]+)`", SHARED.read_text(), flags=re.M):
        command = _command_of(synopsis)
        if command not in COMMANDS:
            continue
        gone = _flags(synopsis) - set(_parser_flags(COMMANDS[command]))
        if gone:
            missing[command] = gone
    assert not missing, f"the contract's flags not implemented: {missing}"


def test_order_help_lists_every_order_action(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["order", "--help"])
    help_text = capsys.readouterr().out
    for command in COMMANDS:
        if command.startswith("order "):
            action = command.split()[1]
            assert re.search(rf"^\s+{re.escape(action)}\s", help_text, re.M), f"{action} not in order --help"


def test_doc_paths_exist():
    assert DOC.exists() and Path(REPO / "docs" / "store-sync-api.md").exists()
