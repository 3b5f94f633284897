"""The app process behind one browser websocket, as textual-serve's AppService runs it.

Two changes to textual-serve's own: the child's environment carries the
session's one-time ticket (and never one inherited from whoever started
serve-ui), and the only thing the child may ask of the browser is to end its
own session. Stopping waits for the child and kills it if it hangs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from textual_serve.app_service import AppService

from agent.associates.serve_tickets import TICKET_ENV
from ui.serve.session import LOGOUT_URL


class SessionAppService(AppService):
    """textual-serve's AppService with the session's associate in the child's environment.

    The child may ask for one thing through ``open_url``: to end its own web
    session (logout, idle). Any other URL is dropped, so the app can never
    steer the browser; file deliveries are not used and are dropped too.
    """

    def __init__(self, command: str, *, extra_env: dict[str, str], on_logout: Callable[[], None],
                 **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._extra_env = extra_env
        self._on_logout = on_logout

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width=width, height=height)
        env.pop(TICKET_ENV, None)  # never inherited from whoever started serve-ui
        env.update(self._extra_env)
        return env

    async def on_meta(self, data: bytes) -> None:
        meta = json.loads(data)
        kind = meta.get("type")
        if kind == "open_url":
            if meta.get("url") == LOGOUT_URL:
                self._on_logout()
                await self.remote_write_str(json.dumps(
                    ["open_url", {"url": "/login?bye=1", "new_tab": False}]))
            return
        if kind == "deliver_file_start":
            return
        await super().on_meta(data)

    async def on_packed(self, payload: bytes) -> None:
        return  # only file-delivery chunks travel this way

    async def stop_within(self, timeout: float) -> None:
        """Quit the app, and reap it: textual-serve's stop() neither waits for the exit nor kills."""
        process = self._process
        try:
            await asyncio.wait_for(self.stop(), timeout)
            if process is not None:
                await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            # A wedged app must not outlive its websocket.
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
