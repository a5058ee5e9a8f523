"""Peak memory while ingesting a 25 MB PDF (text pages plus photos, like a product brochure),
in one process doing the upload checks, extraction, chunking, embedding and writing.
Target: the process stays under 500 MB RSS.

    .venv/bin/python -m tests.bench.bench_memory [--text-pages 1500] [--target-mb 25]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server.rag.documents import add_documents
from server.rag.models import Document
from server.rag.upload import check_upload
from server.rag.worker import WorkerPool
from tests.bench.rag_common import machine, new_dealership, peak_rss_mb, services_for, start_database
from tests.fixtures.make_documents import VOCABULARY


def brochure_pdf(text_pages: int, target_bytes: int, seed: int = 3) -> bytes:
    from PIL import Image
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=True)
    for _ in range(text_pages):
        pdf.setFont("Helvetica", 10)
        for line in range(50):
            pdf.drawString(40, 750 - line * 14, " ".join(rng.choice(VOCABULARY) for _ in range(14)))
        pdf.showPage()
    # Canvas writes nothing until save(), so size the photos up front: noise does not compress,
    # like real JPEG data, and reportlab stores it ASCII85-encoded (x1.25).
    photo_bytes = 700 * 700 * 3
    for photo in range(max(0, (target_bytes - text_pages * 2500) // (photo_bytes * 5 // 4))):
        image = Image.frombytes("RGB", (700, 700), os.urandom(photo_bytes))
        pdf.drawImage(ImageReader(image), 50, 50, width=500, height=500)
        pdf.drawString(40, 760, f"Photo {photo}: the certified pre-owned inspection checklist")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_in_another_process(text_pages: int, target_mb: int) -> Path:
    """Building the PDF must not count towards the ingesting process's peak."""
    path = Path(tempfile.mkdtemp(prefix="sparring-bench-")) / "brochure.pdf"
    subprocess.run([sys.executable, "-m", "tests.bench.bench_memory", "--make", str(path),
                    "--text-pages", str(text_pages), "--target-mb", str(target_mb)], check=True)
    return path


async def main(path: Path, target_mb: int) -> None:
    services = await services_for(start_database())
    dealer = await new_dealership(services)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    with path.open("rb") as fh:  # as the upload handler sees it: a spooled file
        upload = await check_upload(fh, "brochure.pdf", max_bytes=(target_mb + 1) * 1024 * 1024)
        async with services.sessionmaker() as session, session.begin():
            document_id = (await add_documents(session, services, dealer, [upload], None))[0].id
    del upload

    await WorkerPool(services, concurrency=1, database_url="").drain()
    seconds = time.perf_counter() - started
    async with services.sessionmaker() as session:
        document = await session.get(Document, document_id)
    assert document is not None and document.status == "ready", document and document.error
    peak = peak_rss_mb()
    print(f"machine: {machine()}")
    print(f"{document.size / 1e6:.1f} MB PDF, {document.pages} pages, {document.chunks} chunks, ready in "
          f"{seconds:.1f} s")
    print(f"peak RSS {peak:.0f} MB (before ingestion {baseline:.0f} MB) "
          f"({'PASS' if peak < 500 else 'FAIL'} target < 500 MB)")
    await services.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--text-pages", type=int, default=1500)
    parser.add_argument("--target-mb", type=int, default=25)
    parser.add_argument("--make", metavar="PATH", help="only write the PDF")
    args = parser.parse_args()
    if args.make:
        Path(args.make).write_bytes(brochure_pdf(args.text_pages, args.target_mb * 1024 * 1024))
    else:
        asyncio.run(main(make_in_another_process(args.text_pages, args.target_mb), args.target_mb))
