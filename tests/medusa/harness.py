"""A real Medusa v2 server on a private PostgreSQL, for the `medusa` tests.

The Medusa project (package.json pinning @medusajs/* 2.21.x, a short
medusa-config.ts) is written into ~/.cache/store-agent-medusa/<hash of its
files>, where `npm install` runs once: node_modules is reused by every later
run. PostgreSQL (Debian's packages) gets its own data dir and port under the
test's temp dir, and runs as the `postgres` user when we are root, because
postgres refuses to run as root. Everything started here is stopped by
``stop()``; nothing outside the temp dir and the cache dir is touched.
"""

from __future__ import annotations

import base64
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.factories import free_port

MEDUSA_VERSION = "2.21.2"
PACKAGE_JSON = {
    "name": "store-agent-medusa-test",
    "version": "0.0.0",
    "private": True,
    "engines": {"node": ">=20"},
    "dependencies": {
        "@medusajs/cli": MEDUSA_VERSION,
        "@medusajs/framework": MEDUSA_VERSION,
        "@medusajs/medusa": MEDUSA_VERSION,
        "@swc/core": "^1.7.28",
        "ts-node": "^10.9.2",
        "typescript": "^5.6.2",
    },
}
MEDUSA_CONFIG = """\
import { loadEnv, defineConfig } from "@medusajs/framework/utils"

loadEnv(process.env.NODE_ENV || "development", process.cwd())

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    http: {
      storeCors: "*",
      adminCors: "*",
      authCors: "*",
      jwtSecret: "store-agent-test-jwt",
      cookieSecret: "store-agent-test-cookie",
    },
  },
  admin: { disable: true },
})
"""
TSCONFIG = {
    "compilerOptions": {
        "target": "ES2021", "esModuleInterop": True, "module": "Node16", "moduleResolution": "Node16",
        "skipLibCheck": True, "skipDefaultLibCheck": True, "declaration": False,
        "sourceMap": False, "inlineSourceMap": True, "outDir": "./.medusa/server", "rootDir": "./",
        "jsx": "react-jsx", "resolveJsonModule": True, "checkJs": False, "strictNullChecks": True,
    },
    "include": ["medusa-config.ts"],
    "exclude": ["node_modules", ".medusa"],
}
ADMIN_EMAIL = "admin@store-agent.test"
ADMIN_PASSWORD = "store-agent-test-pw"  # a throwaway admin of a throwaway server


def log(message: str) -> None:
    print(f"[medusa-harness] {message}", flush=True)


def _files() -> dict[str, str]:
    return {"package.json": json.dumps(PACKAGE_JSON, indent=2) + "\n",
            "medusa-config.ts": MEDUSA_CONFIG, "tsconfig.json": json.dumps(TSCONFIG, indent=2) + "\n"}


def project_dir() -> Path:
    """The cached Medusa project, installed once per version of its files."""
    files = _files()
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(os.environ.get("STORE_AGENT_MEDUSA_CACHE", Path.home() / ".cache" / "store-agent-medusa"))
    path = root / digest
    if (path / ".installed").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    # Two runs side by side (a stress loop, two clones) on a machine with no cache yet: one
    # installs, the other waits for it instead of running npm into the same tree.
    with open(root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path / ".installed").exists():
            _npm_install(path, files)
    return path


def _npm_install(path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (path / name).write_text(text)
    log(f"npm install in {path} (first run only; takes a couple of minutes)")
    started = time.monotonic()
    # `npm ci` fails on the lockfile npm itself writes for this tree; `npm install` does not.
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=path, env=_node_env(), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"npm install failed ({proc.returncode}): {proc.stderr[-2000:]}")
    (path / ".installed").write_text(f"{time.monotonic() - started:.0f} s\n")


def _node_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env.update(MEDUSA_DISABLE_TELEMETRY="true", NODE_ENV="development", npm_config_update_notifier="false",
               **extra)
    return env


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql"
                           " (./install.sh --test does it when run as root)")
    return Path(found[-1]).parent


class PostgresServer:
    def __init__(self, workdir: Path):
        self.bin = pg_bin()
        self.port = free_port()
        self.dir = workdir / "pg"
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.as_root = os.geteuid() == 0
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:  # postgres refuses to run as root: hand it its directory
            shutil.chown(workdir, "postgres")
            shutil.chown(self.dir, "postgres")
            os.chmod(workdir, 0o755)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w",
                   "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                   "start"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/medusa"
        self._run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                   "postgres", "medusa"])

    def _run(self, argv: list[str]) -> None:
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")

    def stop(self) -> None:
        try:
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"postgres stop: {exc}")


class MedusaServer:
    """`medusa start` in the cached project, against the given database."""

    def __init__(self, project: Path, database_url: str, workdir: Path):
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.log_path = workdir / "medusa.log"
        self.proc: subprocess.Popen | None = None
        self.env = _node_env(DATABASE_URL=database_url, PORT=str(self.port), HOST="127.0.0.1",
                             MEDUSA_ADMIN_DISABLED="true")

    def medusa(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([str(self.project / "node_modules" / ".bin" / "medusa"), *args],
                              cwd=self.project, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"medusa {' '.join(args)} failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
        return proc.stdout

    def start(self, timeout: float = 120) -> None:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it)
        self.proc = subprocess.Popen([str(self.project / "node_modules" / ".bin" / "medusa"), "start"],
                                     cwd=self.project, env=self.env, stdout=log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"medusa start exited {self.proc.returncode}:"
                                   f" {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"medusa did not answer /health within {timeout} s:"
                           f" {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Its own session: the node workers it forks go with it.
        os.killpg(self.proc.pid, 15)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(10)


class Admin:
    """The admin API with a secret API key (Basic auth, the key as user name), and the store API."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.secret_key: str | None = None
        self.publishable_key: str | None = None

    def login(self) -> None:
        r = self.http.post("/auth/user/emailpass", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        jwt = r.json()["token"]
        r = self.http.post("/admin/api-keys", json={"title": "store-agent", "type": "secret"},
                           headers={"Authorization": f"Bearer {jwt}"})
        assert r.status_code == 200, r.text
        self.secret_key = r.json()["api_key"]["token"]
        basic = base64.b64encode(f"{self.secret_key}:".encode()).decode()
        self.http.headers["Authorization"] = f"Basic {basic}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.http.request(method, path, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text[:1000])
        return r.json() if r.content else None

    def store(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"x-publishable-api-key": self.publishable_key or ""}
        r = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text[:1000])
        return r.json()

    def close(self) -> None:
        self.http.close()
