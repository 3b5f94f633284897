"""The OMS: one probe request tells whether it answers, accepts this store's token, and
whether the clocks agree."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from agent.oms import make_client
from agent.ops.checks import FAIL, PASS, WARN, Check
from config.errors import StoreAgentError
from config.settings import Settings
from sync.errors import CredentialsError, NotFoundError, SyncError, TlsError

SKEW_WARN_S = 60.0


PROBE_ORDER = "store-agent-doctor-probe"  # an order id no OMS has: 404 proves the token works


OMS_TIMEOUT_S = 5.0


async def check_oms(settings: Settings, *, timeout_s: float = OMS_TIMEOUT_S) -> list[Check]:
    url = settings.oms.url
    try:
        client = make_client(settings)
    except StoreAgentError as exc:
        return [Check("oms_reachable", FAIL, str(exc), "fix the [oms] settings named above")]
    reachable = credentials = None
    async with client:
        try:
            await client.get_order(PROBE_ORDER, timeout_s=min(timeout_s, settings.oms.timeout_s))
            credentials = Check("oms_credentials", PASS, "the OMS accepted this store's token")
        except NotFoundError:
            credentials = Check("oms_credentials", PASS, "the OMS accepted this store's token")
        except CredentialsError as exc:
            credentials = Check("oms_credentials", FAIL, f"the OMS refused the token ({exc.status})",
                                "set the token the OMS issued for this store in oms.token or"
                                " oms.token_file, then restart the daemon")
        except TlsError as exc:
            reachable = Check("oms_reachable", FAIL, str(exc),
                              "set oms.ca_bundle to the CA that signs the OMS certificate,"
                              " or check the PC's clock")
        except SyncError as exc:
            if exc.status is None:
                host = urlsplit(url).hostname or url
                reachable = Check("oms_reachable", FAIL, f"{url}: {exc}",
                                  f"check the network, DNS and firewall towards {host}"
                                  " and the oms.url setting")
            else:  # it answered, just not as the contract says: reachable all the same
                credentials = Check("oms_credentials", WARN, f"unexpected answer: {exc}",
                                    "check oms.url points at the Store Sync API")
        server_date, received_at = client.last_server_date, client.last_response_at
    if reachable is not None or credentials is None:
        reachable = reachable or Check("oms_reachable", FAIL, f"{url}: no answer")
        return [reachable, Check("oms_credentials", WARN, "not checked: the OMS did not answer",
                                 "fix reachability first")]
    return [Check("oms_reachable", PASS, f"{url} answers"), credentials,
            _skew(server_date, received_at)]


def _skew(server_date: datetime | None, received_at: datetime | None) -> Check:
    if server_date is None or received_at is None:
        return Check("clock_skew", WARN, "the OMS sent no Date header: skew not measured",
                     "make sure the PC syncs its clock (timedatectl status)")
    if server_date.tzinfo is None:
        server_date = server_date.replace(tzinfo=UTC)
    skew = (received_at - server_date).total_seconds()
    # The Date header has 1 s resolution and the request took some time: under 60 s is noise.
    if abs(skew) > SKEW_WARN_S:
        side = "ahead of" if skew > 0 else "behind"
        return Check("clock_skew", WARN, f"this PC's clock is {abs(skew):.0f} s {side} the OMS's",
                     "enable time sync: timedatectl set-ntp true (hold times and staleness use it)")
    return Check("clock_skew", PASS, f"clock within {abs(skew):.0f} s of the OMS")
