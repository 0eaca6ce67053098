"""Logs carry request ids and lead ids, never a lead's personal data."""

from __future__ import annotations

import pytest

from tests.e2e.api.conftest import Marketplace

NAME = "Zebulon Quixotic"
EMAIL = "zebulon.quixotic@example.org"
PHONE = "+1 917 555 0199"


@pytest.mark.usefixtures("worker")
def test_lead_personal_data_never_reaches_the_logs(
    market: Marketplace, capfd: pytest.CaptureFixture[str]
) -> None:
    niche = market.niche(levels=[("Gold", 1, 100)], require_confirmation=False)
    market.provider("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])
    lead_id, _ = market.approved_lead(name=NAME, email=EMAIL, phone=PHONE)
    assert market.wait_settled(lead_id)["last_attempt_status"] == "success"
    market.get(f"/admin/leads/{lead_id}")
    market.get(f"/admin/leads/{lead_id}/assignments")
    confirm = market.niche("confirmed", levels=[("Gold", 1, 100)], require_confirmation=True)
    assert confirm["require_confirmation"] is True
    market.lead("confirmed", name=NAME, email=EMAIL, phone=PHONE)
    out, err = capfd.readouterr()
    logs = out + err
    assert f"lead_id={lead_id}" in logs or f'"lead_id": "{lead_id}"' in logs
    assert "request_id=" in logs or '"request_id"' in logs
    for secret in (NAME, EMAIL, PHONE, "Zebulon", "quixotic@"):
        assert secret not in logs
