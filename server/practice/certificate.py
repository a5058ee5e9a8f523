"""The printable certificate: one landscape A4 page, written with reportlab (a maintained PDF
library: text is laid out and embedded as real text, so the PDF can be searched and read back)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

INK = HexColor("#1f2933")
MUTED = HexColor("#616e7c")
ACCENT = HexColor("#2563eb")
GOLD = {"gold": HexColor("#b7892b"), "silver": HexColor("#8a9199"), "bronze": HexColor("#9c6b3c")}


@dataclass(frozen=True, slots=True)
class CertificateText:
    person: str
    program: str
    dealership: str
    certified_at: datetime
    signed_off_by: str | None
    level: str | None


def render(text: CertificateText) -> bytes:
    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = Canvas(buffer, pagesize=(width, height), invariant=True)
    pdf.setTitle(f"Certificate: {text.person}, {text.program}")
    pdf.setAuthor(text.dealership)
    pdf.setStrokeColor(ACCENT)
    pdf.setLineWidth(3)
    pdf.rect(28, 28, width - 56, height - 56)
    middle = width / 2
    pdf.setFillColor(MUTED)
    pdf.setFont("Helvetica", 14)
    pdf.drawCentredString(middle, height - 110, text.dealership)
    pdf.setFillColor(INK)
    pdf.setFont("Helvetica-Bold", 34)
    pdf.drawCentredString(middle, height - 170, "Certificate of completion")
    pdf.setFont("Helvetica", 16)
    pdf.drawCentredString(middle, height - 225, "This certifies that")
    pdf.setFont("Helvetica-Bold", 28)
    pdf.drawCentredString(middle, height - 275, _fit(text.person, 60))
    pdf.setFont("Helvetica", 16)
    pdf.drawCentredString(middle, height - 320, "has completed the programme")
    pdf.setFont("Helvetica-Bold", 22)
    pdf.drawCentredString(middle, height - 360, _fit(text.program, 70))
    if text.level:
        pdf.setFillColor(GOLD.get(text.level, INK))
        pdf.setFont("Helvetica-Bold", 16)
        pdf.drawCentredString(middle, height - 400, f"Level: {text.level.capitalize()}")
    pdf.setFillColor(MUTED)
    pdf.setFont("Helvetica", 12)
    signed = f"Signed off by {text.signed_off_by}" if text.signed_off_by else "Signed off"
    pdf.drawCentredString(middle, 80, f"{signed} on {text.certified_at:%d %B %Y}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _fit(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
