"""The QR code of an authenticator's setup address, as inline SVG drawn on the server (no script,
no image request, nothing from outside)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    return str(svg)
