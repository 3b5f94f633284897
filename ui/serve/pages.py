"""serve-ui's two HTML pages: the login form and the terminal page.

Our own, not textual-serve's template: that one loads a font from Google, and
a handheld in a back room may have no internet; these load nothing but this
server's own files and carry no inline script (the Content-Security-Policy
in ``server.py`` forbids it).
"""

from __future__ import annotations

from html import escape

_LOGIN = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>store-agent: log in</title>
<style>
  body {{ margin: 0; background: #0c181f; color: #eef; font: 18px/1.4 system-ui, sans-serif; }}
  main {{ max-width: 22em; margin: 0 auto; padding: 1.2em; }}
  h1 {{ font-size: 1.3em; margin: 0 0 .2em; }}
  p {{ margin: .3em 0 1em; color: #bcd; }}
  label {{ display: block; margin-top: .9em; }}
  input, button {{ box-sizing: border-box; width: 100%; font-size: 1.2em; padding: .55em;
    margin-top: .25em; border-radius: 6px; border: 1px solid #567; }}
  button {{ margin-top: 1.3em; background: #1b6e3b; color: #fff; border: none; }}
  .msg {{ margin-top: 1em; padding: .6em; border-radius: 6px; background: #6b1d1d; }}
  .msg.ok {{ background: #1d3b6b; }}
</style>
</head>
<body>
<main>
<h1>store-agent</h1>
<p>Station {station}. Scan your badge or type your associate id, then your PIN.</p>
<form method="post" action="/login" autocomplete="off">
  <label for="associate">Associate id</label>
  <input id="associate" name="associate" value="{associate}" required autofocus
         autocapitalize="characters" autocorrect="off" spellcheck="false" maxlength="64">
  <label for="pin">PIN</label>
  <input id="pin" name="pin" type="password" inputmode="numeric" pattern="[0-9]*"
         autocomplete="current-password" required maxlength="12">
  <button type="submit">Log in</button>
</form>
{message}
</main>
</body>
</html>
"""

_APP = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>store-agent: {station}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<style>
  @font-face {{ font-family: "Roboto Mono"; src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf"); }}
  html, body {{ margin: 0; height: 100%; background: #0c181f; color: #eef; font-family: sans-serif; }}
  #terminal {{ position: absolute; inset: 0; }}
  .closed {{ display: none; position: absolute; inset: 0; z-index: 10; background: #0c181f;
    align-items: center; justify-content: center; flex-direction: column; font-size: 18px; }}
  body.-closed .closed {{ display: flex; }}
  .closed a, .closed button {{ font-size: 1.1em; padding: .6em 1.4em; margin: .5em; color: #fff;
    background: #1b6e3b; border: none; border-radius: 6px; text-decoration: none; }}
  .closed button {{ background: #555; }}
  #start {{ display: none; }}
</style>
<script src="/static/js/textual.js"></script>
</head>
<body>
<div class="closed">
  <p>Disconnected. Your session is kept until it times out.</p>
  <a href="/">Reconnect</a>
  <form method="post" action="/logout"><button type="submit">Log out</button></form>
</div>
<div id="start"></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{ws_url}"
     data-font-size="{font_size}"></div>
</body>
</html>
"""


def login_page(*, station: str, associate: str = "", message: str = "", ok: bool = False) -> str:
    note = f'<div class="msg{" ok" if ok else ""}" role="alert">{escape(message)}</div>' if message else ""
    return _LOGIN.format(station=escape(station), associate=escape(associate), message=note)


def app_page(*, station: str, ws_url: str, font_size: int) -> str:
    return _APP.format(station=escape(station), ws_url=escape(ws_url), font_size=int(font_size))


def error_page(status: int, text: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{status}</title></head>'
            f"<body><h1>{status}</h1><p>{escape(text)}</p></body></html>")
