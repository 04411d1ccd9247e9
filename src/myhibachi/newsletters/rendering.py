"""A marketing email from markdown: a responsive HTML part in the station's brand with its CSS inlined (mail
clients drop <style>), and a plain-text part. Campaigns and automations both render through here.

Staff write markdown, never HTML (raw HTML in the body is shown as text), so a body cannot smuggle scripts or
forms into a mail client; links are kept, and `rewrite_link` may wrap each in a tracked redirect."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from myhibachi.core.templating import render
from myhibachi.settings import Settings

LinkRewriter = Callable[[str], str]

if TYPE_CHECKING:
    import css_inline
    from markdown_it import MarkdownIt


@dataclass(frozen=True)
class Brand:
    """Who the email is from, as it shows: the business, the station, the colours, the footer's address."""

    business: str
    station: str
    primary_color: str
    ink_color: str
    postal_address: str  # CAN-SPAM wants a physical address in every commercial email

    @classmethod
    def of(cls, settings: Settings, station_name: str, postal_address: str) -> Brand:
        return cls(settings.brand_name, station_name, settings.brand_primary_color, settings.brand_ink_color,
                   postal_address)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


# Loaded on the first rendering: a serving process that never renders a newsletter does without them.
@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True}).enable("table")


@cache
def _inliner() -> css_inline.CSSInliner:
    import css_inline

    return css_inline.CSSInliner(keep_style_tags=True)  # kept: the @media rules that make it responsive


def markdown_links(body_markdown: str) -> list[str]:
    """Every http(s) link the body has, in order: what a tracked click may lead to."""
    tokens = _markdown().parse(body_markdown)
    found: list[str] = []

    def walk(items: list) -> None:  # type: ignore[type-arg]
        for token in items:
            href = token.attrGet("href") if token.type == "link_open" else None
            if isinstance(href, str) and href.startswith(("http://", "https://")) and href not in found:
                found.append(href)
            if token.children:
                walk(token.children)

    walk(tokens)
    return found


def _body_html(body_markdown: str, rewrite_link: LinkRewriter | None) -> str:
    tokens = _markdown().parse(body_markdown)
    for block in tokens:
        for token in block.children or []:
            href = token.attrGet("href") if token.type == "link_open" else None
            if isinstance(href, str):
                if not href.startswith(("http://", "https://", "mailto:")):
                    token.attrSet("href", "#")  # no javascript: or relative links in a mail client
                elif rewrite_link and href.startswith(("http://", "https://")):
                    token.attrSet("href", rewrite_link(href))
    return _markdown().renderer.render(tokens, _markdown().options, {})


def _plain_text(body_markdown: str) -> str:
    """The markdown as a person would read it: links as "text (url)", no emphasis marks or heading hashes."""
    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)", r"\1", body_markdown)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)[^)]*\)", r"\1 (\2)", text)
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    return text.strip()


def render_marketing_email(*, subject: str, body_markdown: str, brand: Brand, unsubscribe_url: str,
                           preferences_url: str | None = None, rewrite_link: LinkRewriter | None = None,
                           open_pixel_url: str | None = None) -> RenderedEmail:
    """The two parts of one recipient's email. `unsubscribe_url` goes in the footer too (the header is the
    sender's: `consent.commands.marketing_headers`); a preview passes "#"."""
    context = {"subject": subject, "body": _body_html(body_markdown, rewrite_link), "brand": brand,
               "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url or unsubscribe_url,
               "open_pixel_url": open_pixel_url}
    html = _inliner().inline(render("email/marketing.html", **context))
    text = render("email/marketing.txt", **{**context, "body": _plain_text(body_markdown)})
    return RenderedEmail(subject, html, text)
