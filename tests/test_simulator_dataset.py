"""Datasets: the seeded generator's realistic mix, the demo dataset lined up with the example PSA, the file format and
the command line that serves them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flask_entra.simulator import Dataset, DatasetError, demo_dataset, generate_dataset


def test_generator_is_deterministic_and_has_the_mix_msps_meet() -> None:
    document = generate_dataset(8, 120, seed=5)
    assert document == generate_dataset(8, 120, seed=5)
    assert document != generate_dataset(8, 120, seed=6)
    customers = document["customers"]
    assert len(customers) == 8 and all(len(c["users"]) == 120 for c in customers)
    assert customers[0]["displayName"] == "Contoso Ltd" and customers[0]["domains"][0]["id"] == "contoso.com"
    assert any(all(d["id"].endswith(".onmicrosoft.com") for d in c["domains"]) for c in customers)
    users = [u for c in customers for u in c["users"]]
    assert any(u.get("userType") == "Guest" and "#EXT#" in u["userPrincipalName"] for u in users)
    assert any(u.get("accountEnabled") is False and not u["userPrincipalName"].startswith("info@") for u in users)
    assert any(u.get("deletedDateTime") for u in users)
    assert any(u.get("mail") is None for u in users)
    assert any(u.get("otherMails") for u in users) and any(u.get("mobilePhone") for u in users)
    assert any(u.get("jobTitle") for u in users)
    shared = [u for u in users if u["userPrincipalName"].startswith("info@")]
    assert len(shared) == 8 and all(not u.get("assignedLicenses") and u["accountEnabled"] is False for u in shared)
    assert len({u["id"] for u in users}) == len(users)
    relationships = [r for c in customers for r in c["relationships"]]
    assert any(r["displayName"].startswith("MLT_") for r in relationships)
    assert any(r["status"] == "expired" for r in relationships)


def test_demo_dataset_lines_up_with_the_example_psa_clients() -> None:
    dataset = Dataset(demo_dataset())
    names = {c["displayName"]: c for c in dataset.customers}
    assert set(names) == {
        "Contoso Ltd",
        "Fabrikam, Inc.",
        "Northwind Traders",
        "Tailspin Toys Limited",
        "Proseware Inc",
    }
    for name, domain in (
        ("Contoso Ltd", "contoso.com"),
        ("Fabrikam, Inc.", "fabrikam.com"),
        ("Northwind Traders", "northwindtraders.com"),
    ):
        assert dataset.default_domain(names[name]) == domain
    assert [d["id"] for d in names["Tailspin Toys Limited"]["domains"]] == ["tailspin.onmicrosoft.com"]
    assert all(dataset.live_users(c) for c in dataset.customers)


def test_dataset_files_round_trip_and_bad_files_are_explained(tmp_path: Path) -> None:
    dataset = Dataset(generate_dataset(2, 5, seed=1))
    path = tmp_path / "dataset.json"
    dataset.save(path)
    assert Dataset.from_file(path).to_document() == dataset.to_document()
    path.write_text(json.dumps({"format": 1, "partner": {"tenantId": "t", "users": [{"id": "u"}]}}))
    with pytest.raises(DatasetError, match="userPrincipalName"):
        Dataset.from_file(path)
    path.write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read simulator dataset"):
        Dataset.from_file(path)


def test_command_line_serves_a_generated_dataset() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_entra.simulator", "--port", str(port), "--generate", "3x20", "--seed", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                dataset = httpx.get(f"http://127.0.0.1:{port}/_sim/dataset", timeout=5).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "the simulator did not start"
                time.sleep(0.2)
        assert dataset == Dataset(generate_dataset(3, 20, seed=4)).to_document()
    finally:
        process.terminate()
        process.communicate(timeout=10)
