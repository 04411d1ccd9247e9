"""The customer site's pages over HTTP: findable (titles, canonical URLs, Open Graph, JSON-LD, sitemap), every
price and policy from the station's rules, a quote form that works without JavaScript, and cacheable assets."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.web.site.pages import PAGES

PUBLIC_PAGES = [*PAGES, "/locations/fre"]


class Page(HTMLParser):
    """The parts of a page the tests look at: head tags, JSON-LD blocks, links and error messages."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.json_ld: list[dict] = []
        self.title = ""
        self.hrefs: list[str] = []
        self._in: str | None = None
        self.lang = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and ("name" in a or "property" in a):
            self.meta[a.get("name") or a["property"]] = a.get("content", "")
        if tag == "link" and "rel" in a:
            self.links.setdefault(a["rel"], a["href"])
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        if tag == "title" or (tag == "script" and a.get("type") == "application/ld+json"):
            self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "script":
            self.json_ld.append(json.loads(data))

    def handle_endtag(self, tag: str) -> None:
        self._in = None


@pytest.fixture
async def fremont(make_station, db):  # noqa: ANN001, ANN201
    return await make_station("FRE")


async def page(client, path: str, status: int = 200) -> tuple[str, Page]:  # noqa: ANN001
    response = await client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return response.text, Page(response.text)


@pytest.mark.parametrize("path", PUBLIC_PAGES)
async def test_every_page_is_findable_and_describes_itself(client, fremont, settings, path):
    _, parsed = await page(client, path)

    assert parsed.lang == "en"
    assert parsed.title.strip() and settings.brand_name in parsed.title
    assert len(parsed.meta["description"]) > 20
    assert parsed.links["canonical"] == f"{settings.base_url}{path.split('?')[0]}"
    assert parsed.meta["og:title"] == parsed.title and parsed.meta["og:url"] == parsed.links["canonical"]
    assert "#main" in parsed.hrefs  # the skip link


async def test_titles_and_descriptions_differ_between_pages(client, fremont):
    seen = [(await page(client, path))[1] for path in PUBLIC_PAGES]

    assert len({p.title for p in seen}) == len(seen)
    assert len({p.meta["description"] for p in seen}) == len(seen)


async def test_prices_and_policies_follow_the_rules(client, fremont, make_user, login):
    await make_user("admin@example.com", Role.admin, fremont)
    admin = await login("admin@example.com")
    url = f"/api/v1/stations/{fremont.id}/rules"
    rules = (await client.get(url, headers=admin)).json()
    menu_before, _ = await page(client, "/menu")
    assert "$55.00" in menu_before

    changed = {**rules, "adult_price_cents": 6150, "deposit_cents": 12500, "deposit_refund_min_hours": 120,
               "addons": {**rules["addons"], "miso_soup": 350}}
    assert (await client.put(url, headers=admin, json=changed)).status_code == 200

    menu, _ = await page(client, "/menu")
    faq, _ = await page(client, "/faq")
    terms, _ = await page(client, "/terms")
    home, _ = await page(client, "/")
    assert "$61.50" in menu and "$55.00" not in menu and "Miso soup" in menu and "$3.50" in menu
    assert "$125.00" in faq and "120 hours" in faq
    assert "$125.00" in terms and "120 hours" in terms
    assert "$61.50 per adult" in home


async def test_the_faq_and_each_location_carry_structured_data(client, fremont, settings):
    faq_html, faq = await page(client, "/faq")
    _, location = await page(client, "/locations/FRE")

    [questions] = faq.json_ld
    assert questions["@type"] == "FAQPage"
    assert len(questions["mainEntity"]) == faq_html.count('<section class="qa">')
    assert all(q["acceptedAnswer"]["text"] in faq_html for q in questions["mainEntity"])
    [business] = location.json_ld
    assert business["@type"] == "FoodEstablishment"
    assert business["address"]["addressLocality"] == fremont.city
    assert business["telephone"] == settings.brand_phone
    assert business["geo"]["latitude"] == fremont.latitude


async def test_the_home_page_names_the_business_and_every_station_as_its_locations(client, fremont, make_station,
                                                                                 settings):
    await make_station("SAC", "America/Los_Angeles")
    _, home = await page(client, "/")

    [business] = home.json_ld
    assert business["@type"] == "Organization" and business["name"] == settings.brand_name
    assert business["telephone"] == settings.brand_phone and business["url"] == settings.base_url + "/"
    assert (await client.get(business["logo"].removeprefix(settings.base_url))).status_code == 200
    places = {place["url"]: place["address"]["addressLocality"] for place in business["location"]}
    base = settings.base_url
    assert places == {f"{base}/locations/fre": fremont.city, f"{base}/locations/sac": "Fremont"}
    for url in places:  # each location's own page exists
        assert (await client.get(url.removeprefix(settings.base_url))).status_code == 200


async def test_the_sitemap_lists_every_page_and_station_and_robots_points_to_it(client, fremont, make_station,
                                                                                settings):
    await make_station("SAC", "America/Los_Angeles")

    sitemap = (await client.get("/sitemap.xml")).text
    robots = (await client.get("/robots.txt")).text

    listed = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert listed == [f"{settings.base_url}{p}" for p in (*PAGES, "/locations/fre", "/locations/sac")]
    assert f"Sitemap: {settings.base_url}/sitemap.xml" in robots and "Disallow: /api/" in robots


async def test_an_unknown_location_is_a_helpful_404(client, fremont):
    html, parsed = await page(client, "/locations/nowhere", status=404)

    assert "/locations/fre" in parsed.hrefs and "/" in parsed.hrefs


# --- the quote form, without JavaScript ------------------------------------------------------------------------


async def test_the_quote_form_prices_a_party_like_the_api(client, fremont):
    query = {"station_id": fremont.id, "zip_code": "94536", "adults": 12, "children": 4, "toddlers": 1}
    api = (await client.post("/api/v1/quotes", json=query)).json()

    html, _ = await page(client, "/quote?" + "&".join(f"{k}={v}" for k, v in query.items()))

    assert "Your quote" in html
    total = f"${api['total_cents'] // 100:,}.{api['total_cents'] % 100:02d}"
    assert re.search(rf"Total</th><td>{re.escape(total)}</td>", html)
    assert 'value="94536"' in html and 'value="12"' in html  # the form keeps what was entered


async def test_bad_quote_input_is_shown_beside_each_field_and_kept(client, fremont):
    html, _ = await page(client, f"/quote?station_id={fremont.id}&zip_code=9453&adults=many", status=422)

    assert 'role="alert"' in html and "Please check 2 fields" in html
    assert re.search(r'id="f-zip_code"[^>]*value="9453"[^>]*aria-invalid="true" aria-describedby="f-zip_code-error"',
                     html, re.S)
    assert 'id="f-zip_code-error">Please enter 5 digits.' in html
    assert 'id="f-adults-error">Please enter a whole number.' in html
    assert "Your quote" not in html


async def test_a_venue_too_far_away_is_explained(client, fremont):
    html, _ = await page(client, f"/quote?station_id={fremont.id}&zip_code=10001&adults=10", status=422)

    assert 'id="f-zip_code-error">' in html and "travels up to 150 miles" in html


async def test_without_stations_the_pages_say_what_to_do(client):
    for path in ("/menu", "/quote", "/faq", "/terms"):
        html, _ = await page(client, path)
        assert "first location" in html


# --- assets -----------------------------------------------------------------------------------------------------


async def test_the_stylesheet_is_fingerprinted_cached_for_a_year_and_compressed(client, fremont, settings):
    html, _ = await page(client, "/")
    [stylesheet] = re.findall(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    [brand] = re.findall(r'href="(/brand\.css\?v=[0-9a-f]{10})"', html)

    response = await client.get(stylesheet, headers={"Accept-Encoding": "gzip"})
    stale = await client.get("/static/css/site.000000000000.css")
    plain = await client.get("/static/css/site.css")
    colours = await client.get(brand)

    assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip" and response.headers["content-type"].startswith("text/css")
    assert "--brand" in response.text
    assert stale.status_code == 404 and plain.status_code == 404
    assert f"--brand:{settings.brand_primary_color}" in colours.text


async def test_pages_are_compressed_for_clients_that_accept_it(client, fremont):
    compressed = await client.get("/faq", headers={"Accept-Encoding": "gzip"})
    identity = await client.get("/faq", headers={"Accept-Encoding": "identity"})

    assert compressed.headers["content-encoding"] == "gzip" and "content-encoding" not in identity.headers
    assert compressed.text == identity.text


async def test_a_half_filled_form_typed_live_is_not_an_error_yet(client, fremont):
    live = await client.get(f"/quote?station_id={fremont.id}&zip_code=94536", headers={"HX-Request": "true"})
    submitted = await client.get(f"/quote?station_id={fremont.id}&zip_code=94536")

    assert live.status_code == 200 and "<html" not in live.text and "Your quote" not in live.text
    assert "appears here" in live.text and "error" not in live.text  # the adults are still to come
    assert submitted.status_code == 422 and 'id="f-adults-error">Please fill this in.' in submitted.text


async def test_a_browser_asking_for_a_missing_page_gets_a_page(client, fremont):
    browser = await client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    api_client = await client.get("/no-such-page")
    api_path = await client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})

    assert browser.status_code == 404 and "We could not find that page" in browser.text
    assert browser.headers["content-type"].startswith("text/html")
    assert api_client.status_code == 404 and api_client.headers["content-type"] == "application/problem+json"
    assert api_path.status_code == 404 and api_path.headers["content-type"] == "application/problem+json"


async def test_brand_name_logo_phone_and_email_come_from_settings(settings, fremont):
    from asgi_lifespan import LifespanManager
    from httpx import ASGITransport, AsyncClient

    from myhibachi.app import create_app

    branded = create_app(settings.model_copy(update={
        "brand_name": "Hibachi Bros", "brand_logo_path": "/media/bros-logo.svg", "brand_phone": "(916) 555-0199",
        "brand_email": "grill@bros.example"}))
    async with LifespanManager(branded), AsyncClient(transport=ASGITransport(app=branded),
                                                     base_url="http://testserver") as http:
        home = (await http.get("/")).text

    assert '<img src="/media/bros-logo.svg" alt="" width="28" height="28"> Hibachi Bros' in home
    assert "(916) 555-0199" in home and "mailto:grill@bros.example" in home and "MyHibachi" not in home
