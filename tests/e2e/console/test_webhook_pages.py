"""The console's and the portal's webhook pages over HTTP: endpoints (add, enable, disable,
delete, rotate; the secret shown once and never in a cookie or a later page), deliveries with
their attempts and redeliver, CSRF, the address check, and who may see what."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace, ProviderLogin, make_client
from tests.e2e.console.conftest import console_login
from tests.support.receiver import Receiver, Status
from tests.support.receiver import receiver as receiver

XSS = b"<script>alert(1)</script>"
_SECRET = re.compile(r'id="new-secret">([^<]+)<')
PRIVATE_URL = "http://10.0.0.1/x"
PRIVATE_HTTPS = "https://10.0.0.1/x"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"intake_rate_limit": "0", "webhook_timeout_seconds": 1.0})


@dataclass
class Shop:
    market: Marketplace
    niche: dict[str, Any]
    acme: ProviderLogin
    other: ProviderLogin


@pytest.fixture
def shop(market: Marketplace) -> Shop:
    niche = market.niche(levels=[("Gold", 2, 1000)], return_window_hours=72)
    market.niche("roofers", levels=[("Top", 1, 500)])
    gold = niche["levels"][0]["id"]
    acme = market.provider_login("Acme", balance_cents=100_000, levels=[gold])
    other = market.provider_login("Other", balance_cents=100_000, levels=[gold])
    return Shop(market, niche, acme, other)


@pytest.fixture
def portal_web(api_settings: Settings, db_url: str, shop: Shop) -> Iterator[tuple[TestClient, str]]:
    """Acme's portal session: (client, CSRF token)."""
    with make_client(api_settings, db_url) as c:
        yield c, console_login(c, shop.acme.email, shop.acme.password)


def secret_on(html: str) -> str:
    match = _SECRET.search(html)
    assert match, "no secret on the page"
    return match.group(1)


def endpoints_of(market: Marketplace, provider_id: str) -> list[dict[str, Any]]:
    return list(market.get(f"/admin/providers/{provider_id}/endpoints")["items"])


def assert_nowhere_else(web: TestClient, secret: str, *paths: str) -> None:
    """The secret is in no cookie of the client and on none of ``paths``."""
    for cookie in web.cookies.jar:
        assert secret not in (cookie.value or ""), cookie.name
    for path in paths:
        page = web.get(path)
        assert page.status_code == 200, path
        assert secret not in page.text, path


def wait_delivery(
    market: Marketplace, endpoint_id: str, status: str, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = market.get("/admin/deliveries", endpoint_id=endpoint_id)["items"]
        if items and items[0]["status"] == status:
            return dict(items[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no {status} delivery: {items}")
        time.sleep(0.05)


def test_admin_manages_a_providers_endpoints_and_sees_each_secret_once(
    admin_web: tuple[TestClient, str], shop: Shop, receiver: Receiver
) -> None:
    web, csrf = admin_web
    page = f"/console/providers/{shop.acme.id}"
    added = web.post(
        f"{page}/endpoints",
        data={"url": receiver.url("acme"), "niche_id": shop.niche["id"], "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 200, added.text
    secret = secret_on(added.text)
    assert "shown only this once" in added.text
    assert secret not in str(added.headers)
    [endpoint] = endpoints_of(shop.market, shop.acme.id)
    assert endpoint["url"] == receiver.url("acme")
    assert endpoint["niche_id"] == shop.niche["id"]
    assert_nowhere_else(web, secret, page, f"/console/deliveries?endpoint_id={endpoint['id']}")
    listing = web.get(page).text
    assert receiver.url("acme") in listing and "Movers" in listing

    rotated = web.post(f"/console/endpoints/{endpoint['id']}/rotate", data={"csrf_token": csrf})
    assert rotated.status_code == 200
    fresh = secret_on(rotated.text)
    assert fresh != secret
    assert "previous secret also signs until" in rotated.text
    assert_nowhere_else(web, fresh, page)

    off = web.post(
        f"/console/endpoints/{endpoint['id']}/active",
        data={"active": "0", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert off.status_code == 303 and off.headers["location"] == page
    assert shop.market.get(f"/admin/endpoints/{endpoint['id']}")["is_active"] is False
    assert "s-inactive" in web.get(page).text
    web.post(
        f"/console/endpoints/{endpoint['id']}/active", data={"active": "1", "csrf_token": csrf}
    )
    assert shop.market.get(f"/admin/endpoints/{endpoint['id']}")["is_active"] is True

    gone = web.post(f"/console/endpoints/{endpoint['id']}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 200 and "deleted" in gone.text
    assert endpoints_of(shop.market, shop.acme.id) == []
    assert (
        web.post(
            f"/console/endpoints/{endpoint['id']}/rotate", data={"csrf_token": csrf}
        ).status_code
        == 404
    )


def test_a_refused_url_or_niche_is_shown_beside_its_field_and_nothing_is_stored(
    admin_web: tuple[TestClient, str],
    portal_web: tuple[TestClient, str],
    shop: Shop,
) -> None:
    web, csrf = admin_web
    roofers = shop.market.niches["roofers"]["id"]
    for client, token, action in (
        (web, csrf, f"/console/providers/{shop.acme.id}/endpoints"),
        (portal_web[0], portal_web[1], "/portal/endpoints"),
    ):
        for url, reason in ((PRIVATE_URL, "https"), (PRIVATE_HTTPS, "10.0.0.1")):
            bad = client.post(action, data={"url": url, "csrf_token": token})
            assert bad.status_code == 422, bad.text
            field = re.search(r'<div class="field invalid">.*?</div>', bad.text, re.S)
            assert field and 'id="f-endpoint-url"' in field.group(0)
            assert f'value="{url}"' in field.group(0)
            error = re.search(r'id="e-endpoint-url">([^<]+)<', field.group(0))
            assert error and reason in error.group(1), error

        niche = client.post(
            action,
            data={"url": "http://127.0.0.1:9/x", "niche_id": roofers, "csrf_token": token},
        )
        assert niche.status_code == 422
        assert re.search(r'id="e-niche_id">[^<]*no subscription', niche.text)
        # Only the niches the provider buys in are offered.
        assert "Movers" in niche.text and ">Roofers<" not in niche.text
    assert endpoints_of(shop.market, shop.acme.id) == []


def test_forms_without_the_csrf_token_change_nothing(
    admin_web: tuple[TestClient, str],
    portal_web: tuple[TestClient, str],
    shop: Shop,
    receiver: Receiver,
) -> None:
    market = shop.market
    endpoint = market.post(
        f"/admin/providers/{shop.acme.id}/endpoints", {"url": receiver.url("acme")}
    )
    before = market.get(f"/admin/endpoints/{endpoint['id']}")
    audit_before = market.get("/admin/audit-log", entity_type="webhook_endpoint")["total"]
    for client, paths in (
        (
            admin_web[0],
            [
                f"/console/providers/{shop.acme.id}/endpoints",
                f"/console/endpoints/{endpoint['id']}/active",
                f"/console/endpoints/{endpoint['id']}/rotate",
                f"/console/endpoints/{endpoint['id']}/delete",
            ],
        ),
        (
            portal_web[0],
            [
                "/portal/endpoints",
                f"/portal/endpoints/{endpoint['id']}/active",
                f"/portal/endpoints/{endpoint['id']}/rotate",
                f"/portal/endpoints/{endpoint['id']}/delete",
            ],
        ),
    ):
        for path in paths:
            for token in ("", "forged"):
                response = client.post(
                    path, data={"url": receiver.url("x"), "active": "0", "csrf_token": token}
                )
                assert response.status_code == 403, path
                assert "CSRF" in response.text
    assert market.get(f"/admin/endpoints/{endpoint['id']}") == before
    assert [e["id"] for e in endpoints_of(market, shop.acme.id)] == [endpoint["id"]]
    assert market.get("/admin/audit-log", entity_type="webhook_endpoint")["total"] == audit_before


def test_admin_follows_a_failed_delivery_and_redelivers_it(
    admin_web: tuple[TestClient, str], shop: Shop, receiver: Receiver, worker: None
) -> None:
    web, csrf = admin_web
    market = shop.market
    endpoint = market.post(
        f"/admin/providers/{shop.acme.id}/endpoints", {"url": receiver.url("acme")}
    )
    receiver.respond("acme", Status(410, XSS + b" gone"))
    lead_id, _ = market.approved_lead()
    market.wait_settled(lead_id)
    failed = wait_delivery(market, endpoint["id"], "failed")

    for path in (
        "/console/deliveries",
        "/console/deliveries?status=failed",
        f"/console/deliveries?provider_id={shop.acme.id}",
        f"/console/deliveries?endpoint_id={endpoint['id']}",
        f"/console/deliveries?provider_id={shop.acme.id}&endpoint_id={endpoint['id']}",
    ):
        listing = web.get(path)
        assert listing.status_code == 200, path
        assert f"/console/deliveries/{failed['id']}" in listing.text, path
        assert "Acme" in listing.text
    for path in (
        "/console/deliveries?status=delivered",
        f"/console/deliveries?provider_id={shop.other.id}",
        # The page after it (by keyset: the older deliveries).
        "/console/deliveries?cursor="
        + urllib.parse.quote(f"o{failed['created_at']}_{failed['id']}"),
    ):
        assert f"/console/deliveries/{failed['id']}" not in web.get(path).text, path
    assert web.get("/console/deliveries?status=nope").status_code == 422
    assert web.get("/console/deliveries?provider_id=nope").status_code == 422

    detail = web.get(f"/console/deliveries/{failed['id']}")
    assert detail.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; gone" in detail.text
    assert "<script" not in detail.text
    assert ">410<" in detail.text and "Redeliver" in detail.text

    web.post(
        f"/console/endpoints/{endpoint['id']}/active", data={"active": "0", "csrf_token": csrf}
    )
    refused = web.post(
        f"/console/deliveries/{failed['id']}/redeliver",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    shown = web.get(refused.headers["location"])
    assert "not active" in shown.text and 'class="flash error"' in shown.text
    assert market.get(f"/admin/deliveries/{failed['id']}")["status"] == "failed"

    assert web.post(f"/console/deliveries/{failed['id']}/redeliver").status_code == 403
    web.post(
        f"/console/endpoints/{endpoint['id']}/active", data={"active": "1", "csrf_token": csrf}
    )
    receiver.respond("acme", "ok")
    again = web.post(f"/console/deliveries/{failed['id']}/redeliver", data={"csrf_token": csrf})
    assert again.status_code == 200 and "Redelivery queued" in again.text
    wait_delivery(market, endpoint["id"], "delivered")
    done = web.get(f"/console/deliveries/{failed['id']}").text
    assert done.count('class="badge s-delivered"') >= 2  # the delivery and its last attempt
    assert len(receiver.received("acme")) == 2
    assert web.get(f"/console/deliveries/{shop.acme.id}").status_code == 404


def test_provider_manages_its_endpoints_and_sees_its_deliveries_only(
    portal_web: tuple[TestClient, str],
    shop: Shop,
    receiver: Receiver,
    worker: None,
) -> None:
    web, csrf = portal_web
    market = shop.market
    page = web.get("/portal/endpoints")
    assert page.status_code == 200 and "No endpoint" in page.text
    assert 'href="/portal/endpoints" aria-current="page"' in page.text

    added = web.post(
        "/portal/endpoints",
        data={"url": receiver.url("acme"), "niche_id": shop.niche["id"], "csrf_token": csrf},
    )
    assert added.status_code == 200, added.text
    secret = secret_on(added.text)
    [endpoint] = endpoints_of(market, shop.acme.id)
    receiver.secret("acme", secret)
    assert_nowhere_else(web, secret, "/portal/endpoints", "/portal")

    lead_id, _ = market.approved_lead()
    market.wait_settled(lead_id)
    delivery = wait_delivery(market, endpoint["id"], "delivered")
    [request] = receiver.received("acme")
    assert request.signature_valid is True  # signed with the secret the page showed

    mine = web.get("/portal/endpoints").text
    assert f"/portal/deliveries/{delivery['id']}" in mine
    row = re.search(rf"/portal/deliveries/{delivery['id']}.*?</tr>", mine, re.S)
    assert row and "delivered" in row.group(0) and ">200<" in row.group(0)
    detail = web.get(f"/portal/deliveries/{delivery['id']}")
    assert detail.status_code == 200
    assert "Attempts" in detail.text and "{&#34;ok&#34;: true}" in detail.text
    assert "Redeliver" not in detail.text

    rotated = web.post(f"/portal/endpoints/{endpoint['id']}/rotate", data={"csrf_token": csrf})
    fresh = secret_on(rotated.text)
    assert fresh != secret
    assert_nowhere_else(web, fresh, "/portal/endpoints")
    off = web.post(
        f"/portal/endpoints/{endpoint['id']}/active", data={"active": "0", "csrf_token": csrf}
    )
    assert off.status_code == 200 and "disabled" in off.text
    assert market.get(f"/admin/endpoints/{endpoint['id']}")["is_active"] is False

    # Another provider's endpoint and delivery are not found; the console is not theirs.
    theirs = market.post(
        f"/admin/providers/{shop.other.id}/endpoints", {"url": receiver.url("other")}
    )
    lead_id, _ = market.approved_lead()
    market.wait_settled(lead_id)
    their_delivery = wait_delivery(market, theirs["id"], "delivered")
    assert web.get(f"/portal/deliveries/{their_delivery['id']}").status_code == 404
    assert web.get(f"/portal/deliveries/{endpoint['id']}").status_code == 404
    for action in ("active", "rotate", "delete"):
        response = web.post(
            f"/portal/endpoints/{theirs['id']}/{action}", data={"active": "0", "csrf_token": csrf}
        )
        assert response.status_code == 404, action
    assert market.get(f"/admin/endpoints/{theirs['id']}")["is_active"] is True
    assert their_delivery["id"] not in web.get("/portal/endpoints").text
    for path in (
        "/console/deliveries",
        f"/console/deliveries/{delivery['id']}",
        f"/console/providers/{shop.acme.id}",
    ):
        assert web.get(path).status_code == 403, path
    assert (
        web.post(
            f"/console/endpoints/{endpoint['id']}/rotate", data={"csrf_token": csrf}
        ).status_code
        == 403
    )

    gone = web.post(f"/portal/endpoints/{endpoint['id']}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 200 and "deleted" in gone.text
    assert endpoints_of(market, shop.acme.id) == []
