"""Which ElevenLabs transport gives the earlier first audio: the SDK's HTTP stream or the
input-streaming WebSocket? Measured against the fake (fixed 30 ms time to first byte), so the
difference is pure transport overhead. Run: .venv/bin/python -m tests.bench.tts_transports"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
from elevenlabs.client import AsyncElevenLabs

from server.voice.tts import ElevenLabsHttp, ElevenLabsSocket, Synthesizer
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.server import serve_in_thread

SENTENCES = ["It is a fair price.", "The car has low mileage.", "It comes with a full service history."]


async def first_audio_ms(synth: Synthesizer, text: str) -> float:
    began = time.perf_counter()
    stream = synth.stream(text, 24000)
    await anext(stream)
    elapsed = (time.perf_counter() - began) * 1000
    async for _ in stream:
        pass
    return elapsed


async def main() -> None:
    fake = FakeElevenLabs()
    with serve_in_thread(fake.app()) as url:
        http = httpx.AsyncClient()
        transports: dict[str, Synthesizer] = {
            "http (SDK stream)": ElevenLabsHttp(AsyncElevenLabs(api_key="k", base_url=url, httpx_client=http),
                                                voice_id="v", model="eleven_flash_v2_5", timeout=5),
            "websocket (stream-input)": ElevenLabsSocket(url, "k", voice_id="v", model="eleven_flash_v2_5",
                                                         timeout=5),
        }
        for name, synth in transports.items():
            await first_audio_ms(synth, "warm up.")
            samples = [await first_audio_ms(synth, SENTENCES[i % 3]) for i in range(60)]
            samples.sort()
            print(f"{name:26s} first audio p50 {statistics.median(samples):6.1f} ms  "
                  f"p95 {samples[int(len(samples) * 0.95)]:6.1f} ms  (fake TTFB 30 ms)")
        await http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
