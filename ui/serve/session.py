"""The app process behind one browser websocket: `python -m ui.serve.session --station ID`.

Started only by serve-ui (``server.py``), never from the command line's
commands. It starts the associate UI already logged in as the associate named
by ``ASSOCIATE_ENV``, which the server sets from its own session table after
checking the PIN; nothing the browser sends can choose it (the browser only
ever reaches this process as terminal input). The associate must still be in
the roster with a PIN, read again from the configuration here.

Logging out (F9, or idle for ``ui.idle_logout_s``) ends the web session too:
the app asks the server, through textual-serve's ``open_url`` channel, to
forget the session and send the browser to the login page, then exits.
"""

from __future__ import annotations

import argparse
import os
import sys

ASSOCIATE_ENV = "STORE_AGENT_SERVE_SESSION_ASSOCIATE"
LOGOUT_URL = "store-agent:logout"
"""What the app 'opens' to end its web session; the server never passes it to the browser."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ui.serve.session")
    parser.add_argument("--station", required=True)
    args = parser.parse_args(argv)
    # Popped at once: nothing this process starts inherits it.
    associate_id = os.environ.pop(ASSOCIATE_ENV, "")
    if not associate_id:
        sys.stderr.write(f"ui.serve.session: started without {ASSOCIATE_ENV}; only serve-ui starts it\n")
        return 2

    from config import load_settings
    from config.errors import ConfigError
    from ui.tui.app import StoreAgentApp

    try:
        settings = load_settings(None, overrides={"station": args.station}, environ=os.environ)
    except ConfigError as exc:
        sys.stderr.write("".join(f"ui.serve.session: config: {line}\n" for line in exc.problems))
        return 2
    from agent.associates import roster
    from agent.store.connection import Store

    with Store(settings.storage.path) as store:
        settings = roster.with_stored_pins(store, settings)
    associate = settings.associate(associate_id)
    if associate is None or associate.pin_hash is None:
        sys.stderr.write(f"ui.serve.session: {associate_id!r} can no longer log in\n")
        return 3

    class ServedApp(StoreAgentApp):
        def on_ready(self) -> None:
            # Once the login screen is up (on_mount pushed it), as if the PIN had been typed there.
            self.login(associate)

        def action_logout(self, note: str | None = None) -> None:
            self.associate = None
            self.open_url(LOGOUT_URL, new_tab=False)
            self.exit()

    ServedApp(settings, station_id=args.station).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
