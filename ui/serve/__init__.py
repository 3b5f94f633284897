"""`store-agent serve-ui`: the associate UI for handheld browsers, behind the product's own front.

textual-serve alone has no login and no Origin check: anyone who reaches its
port gets a running app. So the front here (``server.py``) is our own small
aiohttp application that checks the Origin of every POST and websocket
upgrade, asks for an associate id and PIN before any app process starts, and
keeps expiring sessions (``auth.py``, no I/O, an injectable clock). It reuses
only textual-serve's per-session process machinery (``AppService``) and its
static terminal page assets. Each websocket runs ``python -m ui.serve.session``,
which starts the app already logged in as the session's associate, named by
an environment variable only this server sets.

Nothing here is imported by other commands: ``ui/cli/serve_cmd.py`` imports it
lazily, and only ``server.py`` and ``session.py`` import aiohttp, textual-serve
or textual.
"""
