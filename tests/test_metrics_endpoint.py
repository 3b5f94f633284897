"""/metrics for central scraping: TLS and basic auth, process and start-time series."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time

import httpx
import pytest
from prometheus_client import generate_latest

from agent.ops.metrics import StoreMetrics
from config import ConfigError, load_settings
from tests.factories import write_config
from tests.test_metrics import samples


def _settings(tmp_path, extra: str = ""):
    return load_settings(write_config(tmp_path, metrics=extra), environ={})


async def _serving(metrics: StoreMetrics, stop: asyncio.Event) -> asyncio.Task:
    task = asyncio.create_task(metrics.serve(stop))
    deadline = time.monotonic() + 20
    while getattr(metrics, "port", None) is None:
        assert time.monotonic() < deadline and not task.done(), "the endpoint never started"
        await asyncio.sleep(0.02)
    return task


def test_process_and_start_time_series(tmp_path):
    metrics = StoreMetrics(_settings(tmp_path))
    before = time.time()
    parsed = samples(generate_latest(metrics.registry).decode())
    started = parsed[("store_agent_start_time_seconds", ())]
    assert before - 60 < started <= before
    assert parsed[("process_start_time_seconds", ())] > 0
    assert parsed[("process_resident_memory_bytes", ())] > 1_000_000
    metrics.collector.close()
    metrics.kpis.close()


def test_basic_auth_refuses_without_the_password(tmp_path):
    secret = tmp_path / "metrics-password"
    secret.write_text("hunter22\n")
    secret.chmod(0o600)
    settings = _settings(tmp_path, f'basic_auth_user = "prom"\nbasic_auth_password_file = "{secret}"\n')

    async def main() -> None:
        metrics, stop = StoreMetrics(settings), asyncio.Event()
        task = await _serving(metrics, stop)
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        try:
            async with httpx.AsyncClient() as client:
                assert (await client.get(url)).status_code == 401
                bad = await client.get(url, auth=("prom", "hunter2"))
                assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers
                good = await client.get(url, auth=("prom", "hunter22"))
                assert good.status_code == 200 and "store_agent_info{" in good.text
        finally:
            stop.set()
            await task

    asyncio.run(main())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_tls_endpoint(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    settings = _settings(tmp_path, f'tls_cert = "{cert}"\ntls_key = "{key}"\n')

    async def main() -> None:
        metrics, stop = StoreMetrics(settings), asyncio.Event()
        task = await _serving(metrics, stop)
        try:
            async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert))) as client:
                r = await client.get(f"https://127.0.0.1:{metrics.port}/metrics")
                assert r.status_code == 200 and "store_agent_start_time_seconds" in r.text
            async with httpx.AsyncClient() as plain:  # plain HTTP gets no metrics
                with pytest.raises(httpx.HTTPError):
                    await plain.get(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5)
        finally:
            stop.set()
            await task

    asyncio.run(main())


def test_half_configured_tls_or_auth_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"tls_cert and metrics\.tls_key"):
        _settings(tmp_path, 'tls_cert = "/x.pem"\n')
    with pytest.raises(ConfigError, match="basic_auth_user"):
        _settings(tmp_path, 'basic_auth_user = "prom"\n')
