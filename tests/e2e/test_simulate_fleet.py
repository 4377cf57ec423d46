"""`auvo-bling simulate --accounts N --tenants-toml F`: a newcomer's way to a many-company deployment
against the simulators; the file it writes is a config our settings load, whose credentials work."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import tomlkit

from infra.auvo.client import AuvoClient
from infra.settings import load_settings


def test_simulate_serves_many_companies_and_writes_their_tenant_sections(tmp_path: Path) -> None:
    sections_file = tmp_path / "tenants.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "auvo_bling.cli", "simulate", "--accounts", "3", "--customers", "2",
         "--auvo-port", "0", "--bling-port", "0", "--tenants-toml", str(sections_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "3 companies (t0001 .. t0003" in banner, banner
        deadline = time.monotonic() + 30
        while not sections_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        tenants = tomlkit.parse(sections_file.read_text(encoding="utf-8"))["tenants"]
        assert sorted(tenants) == ["t0001", "t0002", "t0003"]

        config = tmp_path / "auvo-bling.toml"
        config.write_text(
            'secret_key = "fleet-test-secret"\ntenant_enabled = false\n' + sections_file.read_text("utf-8"),
            encoding="utf-8",
        )
        settings = load_settings(config)
        assert settings.served_tenants() == ["t0001", "t0002", "t0003"]
        keys = set()
        for name in settings.served_tenants():
            auvo = settings.for_tenant(name).auvo
            assert auvo.api_key is not None and auvo.api_token is not None
            key, token = auvo.api_key.get_secret_value(), auvo.api_token.get_secret_value()
            keys.add(key)
            client = AuvoClient(auvo.base_url, key, token)
            try:
                assert len(list(client.iter_customers())) == 2
            finally:
                client.close()
        assert len(keys) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
