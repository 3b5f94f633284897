"""Mutual TLS through the one SSLContext: a private CA, a server cert, a client cert.

The certificates are made with the ``openssl`` command (``cryptography`` is not
a dependency of the product).
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from sync.client import StoreSyncClient
from sync.errors import TlsError, TransientError
from sync.oms_sim import OmsSimServer, SimState
from tests.sync.conftest import STORE, TOKEN

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl command to make certificates"
)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test HQ CA",
        cwd=d,
    )
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "store S042")):
        _openssl(
            "req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    # The product's client_cert setting is one PEM holding certificate and key.
    (d / "client-bundle.pem").write_text((d / "client.pem").read_text() + (d / "client.key").read_text())
    return d


@pytest.fixture
def mtls_sim(pki):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    state = SimState(token=TOKEN)
    state.add_sample_orders(STORE, 2)
    with OmsSimServer(state, ssl_context=context) as server:
        yield server


def _feed(url: str, **kwargs):
    async def go():
        async with StoreSyncClient(url, STORE, TOKEN, timeout_s=5, **kwargs) as client:
            return await client.get_changes()

    return asyncio.run(go())


def test_mtls_works_with_ca_bundle_and_client_cert(mtls_sim, pki):
    assert mtls_sim.url.startswith("https://")
    page = _feed(mtls_sim.url, ca_bundle=pki / "ca.pem", client_cert=pki / "client-bundle.pem")
    assert len(page.changes) == 2


def test_server_refuses_a_client_without_its_certificate(mtls_sim, pki):
    with pytest.raises(TransientError):
        _feed(mtls_sim.url, ca_bundle=pki / "ca.pem")


def test_client_refuses_a_server_it_cannot_verify(mtls_sim, pki):
    with pytest.raises(TlsError, match="TLS failed"):
        _feed(mtls_sim.url, client_cert=pki / "client-bundle.pem")


def test_an_unreadable_ca_bundle_or_client_cert_is_a_config_error(pki, tmp_path):
    from config.errors import ConfigError

    with pytest.raises(ConfigError, match=r"oms\.ca_bundle"):
        StoreSyncClient("https://oms.example.com", STORE, TOKEN, ca_bundle=tmp_path / "none.pem")
    with pytest.raises(ConfigError, match=r"oms\.client_cert"):
        # a certificate without its key is the usual mistake
        StoreSyncClient("https://oms.example.com", STORE, TOKEN, client_cert=pki / "client.pem")
