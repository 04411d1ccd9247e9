"""A campaign message written straight to bytes (sending.Mime) is the valid MIME message the email package would
have made: both parts, their text exactly, the headers, RFC 2047 words for a non-ASCII subject or sender, lines
under 78 characters and 7-bit clean, and List-Unsubscribe's URL as it is (RFC 2369), not in encoded words."""

from __future__ import annotations

from email.message import EmailMessage

from myhibachi.newsletters.mailer import Outgoing
from myhibachi.newsletters.sending import Mime
from tests.newsletters.delivery.conftest import html_of, text_of

TEXT = "Grüße from the grill \n\nA line " + "long " * 40 + "\n.\nFrom here = there\t\n"
HTML = '<p style="color: #b3261e">Café ' + "<b>wide</b> " * 30 + "</p>\n"
UNSUBSCRIBE = "<https://hibachi.example/unsubscribe/1.1796538204.099hY-Y6ZNU4u5uFslVseF2OSyHvPCnWxT5flKLfXTI?r=1>"


def written(to: str = "fan0@example.com", subject: str = "Sommer-Partys: Grüße vom Grill", sender: str =
            "Hibachi Café <bookings@myhibachi.local>") -> tuple[bytes, EmailMessage]:
    data = Mime(subject).message(sender, to, "<campaign-7-42@myhibachi.local>",
                                 {"List-Unsubscribe": UNSUBSCRIBE,
                                  "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}, TEXT, HTML)
    parsed = Outgoing("bookings@myhibachi.local", to, data).as_message()
    return data, parsed


def test_both_parts_and_the_headers_as_the_email_package_reads_them():
    data, message = written()

    assert message.get_content_type() == "multipart/alternative" and not message.defects
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert text_of(message) == TEXT and html_of(message) == HTML
    assert str(message["Subject"]) == "Sommer-Partys: Grüße vom Grill"
    assert message["From"].addresses[0].display_name == "Hibachi Café"
    assert str(message["To"]) == "fan0@example.com"
    assert message["Message-ID"] == "<campaign-7-42@myhibachi.local>"
    assert message["Date"].datetime is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"\r\nList-Unsubscribe: {UNSUBSCRIBE}\r\n".encode() in data  # the URL as it is, on one line
    lines = data.split(b"\r\n")
    assert data.endswith(b"\r\n") and b"\n" not in b"".join(lines)  # SMTP's line ends only, as it goes on the wire
    assert data.isascii() and all(len(line) <= 78 for line in lines if not line.startswith(b"List-"))


def test_an_address_the_email_package_must_encode_is_left_to_it():
    data, message = written(to="Zoë <zoe@example.com>", subject="Plain")

    assert data.isascii() and str(message["To"]) == "Zoë <zoe@example.com>"
    assert str(message["Subject"]) == "Plain" and text_of(message) == TEXT
