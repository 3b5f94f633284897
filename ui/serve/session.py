"""The app process behind one browser websocket: `python -m ui.serve.session --station ID`.

Started only by serve-ui (``server.py``), never from the command line's
commands. It starts the associate UI already logged in as the associate of a
one-time ticket serve-ui wrote into the store after checking the PIN
(agent.associates.serve_tickets, ``TICKET_ENV``): started by hand, with or
without an associate id in its environment, it refuses. Nothing the browser
sends can choose the associate (the browser only ever reaches this process as
terminal input). The associate must still be in the roster with a PIN. The
ticket also names the session's device id (``handheld-2``): its events carry
it, and it never opens the PC's serial scanner.

Logging out (F9, or idle for ``ui.idle_logout_s``) ends the web session too:
the app asks the server, through textual-serve's ``open_url`` channel, to
forget the session and send the browser to the login page, then exits.
"""

from __future__ import annotations

import argparse
import os
import sys

from agent.associates import serve_tickets
from agent.associates.serve_tickets import TICKET_ENV

LOGOUT_URL = "store-agent:logout"
"""What the app 'opens' to end its web session; the server never passes it to the browser."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ui.serve.session")
    parser.add_argument("--station", required=True)
    args = parser.parse_args(argv)
    # Popped at once: nothing this process starts inherits it.
    ticket = os.environ.pop(TICKET_ENV, "")
    if not ticket:
        sys.stderr.write("ui.serve.session: no ticket; only serve-ui starts it, after a login\n")
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
        grant = serve_tickets.redeem(store, ticket)
        settings = roster.with_stored_pins(store, settings)
    if grant is None:
        sys.stderr.write("ui.serve.session: the ticket is unknown, used or expired; only serve-ui"
                         " starts it, after a login\n")
        return 3
    associate = settings.associate(grant.associate_id)
    if associate is None or associate.pin_hash is None:
        sys.stderr.write(f"ui.serve.session: {grant.associate_id!r} can no longer log in\n")
        return 3

    who = associate  # narrowed: the class body below cannot see the check above

    class ServedApp(StoreAgentApp):
        # The PC's serial scanner belongs to the PC: a code scanned at the counter must
        # never land in a handheld's session.
        opens_serial_scanner = False

        def on_ready(self) -> None:
            # Once the login screen is up (on_mount pushed it), as if the PIN had been typed there.
            self.login(who)

        def action_logout(self, note: str | None = None) -> None:
            self.associate = None
            self.open_url(LOGOUT_URL, new_tab=False)
            self.exit()

    ServedApp(settings, station_id=args.station, device_id=grant.device_id).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
