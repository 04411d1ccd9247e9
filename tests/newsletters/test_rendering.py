"""A marketing email from markdown: both parts, the brand, CSS inlined for mail clients, staff's markdown unable to
put HTML or script links into a mail client, and the links a tracked click may lead to."""

from __future__ import annotations

from myhibachi.newsletters.rendering import Brand, markdown_links, render_marketing_email
from myhibachi.settings import Settings

BRAND = Brand(business="MyHibachi", station="Fremont", primary_color="#b3261e", ink_color="#1f2328",
              postal_address="39010 Paseo Padre Pkwy, Fremont, CA 94538")
BODY = """# Summer menu

Hello **friends**! See the [new menu](https://example.com/menu) or [book](https://example.com/book?x=1&y=2).

<script>alert(1)</script> and [a trap](javascript:alert(1)) and [relative](/admin).
"""


def render(**overrides):  # noqa: ANN003, ANN201
    return render_marketing_email(**{"subject": "Summer is here", "body_markdown": BODY, "brand": BRAND,
                                     "unsubscribe_url": "https://site.test/unsubscribe/tok", **overrides})


def test_the_html_part_is_branded_with_its_css_inlined_and_the_text_part_reads_plainly() -> None:
    email = render()

    assert email.subject == "Summer is here"
    assert "MyHibachi · Fremont" in email.html and "39010 Paseo Padre Pkwy" in email.html
    assert 'style="background: #b3261e' in email.html  # the brand bar's rule, inlined onto its element
    assert "@media only screen" in email.html  # responsive rules stay in <style> (they cannot be inlined)
    assert '<a href="https://example.com/menu"' in email.html
    assert "https://site.test/unsubscribe/tok" in email.html and "https://site.test/unsubscribe/tok" in email.text

    assert "Hello friends! See the new menu (https://example.com/menu)" in email.text
    assert "# " not in email.text and "**" not in email.text
    assert "Summer menu" in email.text and "39010 Paseo Padre Pkwy" in email.text


def test_markdown_cannot_put_html_or_script_links_into_a_mail_client() -> None:
    email = render()

    assert "<script>" not in email.html and "&lt;script&gt;" in email.html  # shown as text
    assert 'href="javascript' not in email.html
    assert 'href="/admin"' not in email.html and 'href="#"' in email.html


def test_links_can_be_rewritten_for_tracking_and_a_pixel_added() -> None:
    email = render(rewrite_link=lambda url: f"https://site.test/t/c/{len(url)}",
                   open_pixel_url="https://site.test/t/o/abc.gif")

    assert 'href="https://site.test/t/c/24"' in email.html  # https://example.com/menu
    assert "https://example.com/menu" not in email.html
    assert '<img src="https://site.test/t/o/abc.gif"' in email.html
    assert "https://example.com/menu" in email.text  # the text part keeps the real address
    assert "t/o/abc.gif" not in render().html


def test_the_links_of_a_body_are_its_web_links_once_each_in_order() -> None:
    body = BODY + "\n\nAgain: [menu](https://example.com/menu) and [mail us](mailto:hi@example.com)."

    assert markdown_links(body) == ["https://example.com/menu", "https://example.com/book?x=1&y=2"]


def test_the_brand_comes_from_the_settings_and_the_station() -> None:
    brand = Brand.of(Settings(brand_name="Grill Co", brand_primary_color="#123456"), "Oakland", "1 Main St")

    assert (brand.business, brand.station, brand.primary_color, brand.postal_address) == (
        "Grill Co", "Oakland", "#123456", "1 Main St")
