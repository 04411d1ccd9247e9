"""Cross-site request forgery and caching: the admin CSRF token belongs to one sign-in session, every unsafe page
and manage-API request must come from the site's own pages (Origin, else Referer), the cookies take `__Host-` over
https, and nothing personal or staff-only is kept by a cache."""

from __future__ import annotations

import pytest
from httpx import ASGITransport, AsyncClient, Request

from myhibachi.auth.permissions import Role
from myhibachi.core.http import trusted_origins
from tests.bookings.conftest import API
from tests.conftest import PASSWORD, mail_files
from tests.web.browserless import Page, csrf_of, read, submit

OWN = "http://testserver"
EVIL = "https://evil.example"


@pytest.fixture
async def admin(station, make_user):  # noqa: ANN001, ANN201
    await make_user("admin@example.com", Role.admin, station)
    return station


async def signed_in(http: AsyncClient) -> Page:
    page = await submit(http, read(await http.get("/admin/login")), None, email="admin@example.com",
                        password=PASSWORD)
    assert "<h1>Dashboard" in page.text, page.text[:500]
    return page


def without_origin(http: AsyncClient, method: str, url: str, **kwargs) -> Request:  # noqa: ANN003
    """A request as a non-browser client sends it: neither Origin nor Referer."""
    request = http.build_request(method, url, **kwargs)
    del request.headers["Origin"]
    return request


async def ask_for_reset_link(http: AsyncClient, token: str, **headers: str):  # noqa: ANN201
    return await http.post("/admin/settings/password-reset", data={"csrf_token": token, "go": "confirm"},
                           headers=headers)


# --- the admin CSRF token is bound to the sign-in session ----------------------------------------------------------


async def test_an_admin_token_works_only_in_the_session_it_was_issued_to(app, client, admin, settings):
    mine = csrf_of(await signed_in(client))
    async with AsyncClient(transport=ASGITransport(app=app), base_url=OWN, headers={"Origin": OWN}) as other:
        theirs = csrf_of(await signed_in(other))
        borrowed = await ask_for_reset_link(other, mine)
        assert mail_files(settings) == []
        own = await ask_for_reset_link(other, theirs)

    assert mine != theirs
    assert borrowed.status_code == 403 and "nothing was changed" in borrowed.text
    assert own.status_code == 303 and len(mail_files(settings)) == 1


async def test_a_double_submitted_cookie_is_not_enough_once_signed_in(client, admin, settings):
    await signed_in(client)
    client.cookies.set("mh_csrf", "attacker-chosen-token-0123456789")  # e.g. planted by a sibling subdomain

    forged = await ask_for_reset_link(client, "attacker-chosen-token-0123456789")

    assert forged.status_code == 403 and mail_files(settings) == []


async def test_a_sign_out_with_another_sessions_token_signs_nobody_out(app, client, admin):
    mine = csrf_of(await signed_in(client))
    async with AsyncClient(transport=ASGITransport(app=app), base_url=OWN, headers={"Origin": OWN}) as other:
        await signed_in(other)
        await other.post("/admin/logout", data={"csrf_token": mine})
        assert (await other.get("/admin")).status_code == 200


# --- Origin / Referer of unsafe requests ---------------------------------------------------------------------------


async def test_an_admin_post_from_another_site_is_refused_and_changes_nothing(client, admin, settings):
    token = csrf_of(await signed_in(client))

    foreign = await ask_for_reset_link(client, token, Origin=EVIL)
    foreign_referer = await client.send(without_origin(client, "POST", "/admin/settings/password-reset", data={
        "csrf_token": token, "go": "confirm"}, headers={"Referer": f"{EVIL}/admin/settings"}))
    nowhere = await client.send(without_origin(client, "POST", "/admin/settings/password-reset", data={
        "csrf_token": token, "go": "confirm"}))
    opaque = await ask_for_reset_link(client, token, Origin="null")

    for refused in (foreign, foreign_referer, nowhere, opaque):
        assert refused.status_code == 403 and "another site" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    assert mail_files(settings) == []


async def test_an_admin_post_from_our_own_page_passes_by_origin_or_referer(client, admin, settings):
    token = csrf_of(await signed_in(client))

    by_origin = await ask_for_reset_link(client, token)
    by_referer = await client.send(without_origin(client, "POST", "/admin/settings/password-reset", data={
        "csrf_token": token, "go": "confirm"}, headers={"Referer": f"{OWN}/admin/settings"}))

    # A page sent with Referrer-Policy no-referrer (those showing a secret) posts with Origin null.
    no_referrer = await ask_for_reset_link(client, token, Origin="null", **{"Sec-Fetch-Site": "same-origin"})
    sibling = await ask_for_reset_link(client, token, Origin="null", **{"Sec-Fetch-Site": "same-site"})

    assert by_origin.status_code == 303 and by_referer.status_code == 303 and no_referrer.status_code == 303
    assert sibling.status_code == 403
    assert len(mail_files(settings)) == 3


async def test_a_customer_page_post_from_another_site_is_refused(client, station, book):
    created = await book(station.id)
    path = f"/manage/{created['manage_token']}/cancel"
    page = read(await client.get(path))

    refused = await client.post(path, data={**page.form.fields, "go": "cancel"}, headers={"Origin": EVIL})

    assert refused.status_code == 403 and "another site" in refused.text
    view = (await client.get(f"{API}/manage/{created['manage_token']}")).json()
    assert view["status"] == "pending_deposit"


async def test_the_manage_api_refuses_other_sites_but_serves_clients_that_send_no_origin(client, station, book):
    created = await book(station.id)
    url = f"{API}/manage/{created['manage_token']}"

    foreign = await client.patch(url, json={"adults": 14}, headers={"Origin": EVIL})
    assert (await client.get(url)).json()["party"]["adults"] == 12
    own = await client.patch(url, json={"adults": 13})
    app_client = await client.send(without_origin(client, "PATCH", url, json={"adults": 14}))

    assert foreign.status_code == 403
    assert foreign.headers["content-type"] == "application/problem+json"
    assert foreign.json()["code"] == "cross_site_request"
    assert own.status_code == 200 and app_client.status_code == 200
    assert (await client.get(url)).json()["party"]["adults"] == 14


def test_the_trusted_origins_are_base_urls_and_the_requests_own():
    assert trusted_origins("https://book.example.com/", "http://10.0.0.5:8000") == {
        "https://book.example.com", "http://10.0.0.5:8000"}
    # `make run` on the default BASE_URL opened as localhost: the page and the post share the address typed.
    assert "http://localhost:8000" in trusted_origins("http://127.0.0.1:8000", "http://localhost:8000")
    assert trusted_origins("https://Book.Example.com:443", "https://book.example.com") == {
        "https://book.example.com"}


# --- cookies over https ---------------------------------------------------------------------------------------------


async def test_over_https_the_csrf_cookie_is_host_only_and_secure(app, admin):
    async with AsyncClient(transport=ASGITransport(app=app), base_url="https://admin.example",
                           headers={"Origin": "https://admin.example"}) as https:
        login = await https.get("/admin/login")
        page = await signed_in(https)

    cookie = next(h for h in login.headers.get_list("set-cookie") if "mh_csrf=" in h)
    assert cookie.startswith("__Host-mh_csrf=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "<h1>Dashboard" in page.text


# --- Cache-Control -------------------------------------------------------------------------------------------------


async def test_personal_and_staff_responses_are_never_stored(client, station, book, make_user, login):
    await make_user("admin@example.com", Role.admin, station)
    staff = await login("admin@example.com")
    created = await book(station.id)
    token = created["manage_token"]
    sign_in_page = await client.get("/admin/login")
    await signed_in(client)

    responses = {
        "admin page": await client.get("/admin/bookings"),
        "sign-in page": sign_in_page,
        "token response": await client.post(f"{API}/auth/login", json={"email": "admin@example.com",
                                                                        "password": PASSWORD}),
        "manage page": await client.get(f"/manage/{token}"),
        "manage API": await client.get(f"{API}/manage/{token}"),
        "calendar file": await client.get(f"{API}/manage/{token}/calendar.ics"),
        "payment notice API": await client.post(f"{API}/manage/{token}/payment-sent", json={"method": "zelle"}),
        "booking API": await client.post(f"{API}/bookings", json={}),
        "staff booking API": await client.get(f"{API}/bookings", headers=staff),
        "payment API": await client.get(f"{API}/payments", headers=staff),
        "who am I": await client.get(f"{API}/auth/me", headers=staff),
        "booking page": await client.get("/book"),
    }

    assert {name: r.headers.get("Cache-Control") for name, r in responses.items()} == dict.fromkeys(
        responses, "no-store")
    assert responses["booking API"].status_code == 422  # errors too: they may echo what was sent


async def test_public_pages_and_assets_stay_cacheable(client, station):
    home = await client.get("/")
    stations = await client.get(f"{API}/stations")

    assert home.status_code == 200 and home.headers.get("Cache-Control") != "no-store"
    assert stations.status_code == 200 and stations.headers.get("Cache-Control") != "no-store"
