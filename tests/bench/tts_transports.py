"""Which ElevenLabs transport gives the earlier first audio: the SDK's HTTP stream with timestamps
(protocol 1.1: audio plus character alignment, the default), the plain HTTP stream it replaced
(raw PCM, no timings; kept here as the baseline), or the input-streaming WebSocket? Measured
against the fake (fixed 30 ms time to first byte), so the difference is pure transport and
parsing overhead. Rounds alternate between the transports, so machine load hits all of them alike.
Run: .venv/bin/python -m tests.bench.tts_transports [--pieces 60]"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncGenerator

import httpx
from elevenlabs.client import AsyncElevenLabs

from server.voice.tts import ElevenLabsHttp, ElevenLabsSocket, SpeechChunk, Synthesizer
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.server import serve_in_thread

SENTENCES = ["It is a fair price.", "The car has low mileage.", "It comes with a full service history."]


class PlainHttp:
    """The 1.0 path: `text_to_speech.stream`, raw PCM chunks as they arrive, no word timings."""

    offline = False

    def __init__(self, client: AsyncElevenLabs) -> None:
        self._client = client

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        async for chunk in self._client.text_to_speech.stream(
                "v", text=text, model_id="eleven_flash_v2_5", output_format=f"pcm_{sample_rate}",
                optimize_streaming_latency=3, request_options={"max_retries": 0, "chunk_size": None}):
            yield SpeechChunk(chunk)


async def first_audio_ms(synth: Synthesizer, text: str) -> float:
    began = time.perf_counter()
    stream = synth.stream(text, 24000)
    while not (await anext(stream)).audio:
        pass
    elapsed = (time.perf_counter() - began) * 1000
    async for _ in stream:
        pass
    return elapsed


async def main(pieces: int) -> None:
    fake = FakeElevenLabs()
    with serve_in_thread(fake.app()) as url:
        http = httpx.AsyncClient()
        client = AsyncElevenLabs(api_key="k", base_url=url, httpx_client=http)
        transports: dict[str, Synthesizer] = {
            "http with timestamps": ElevenLabsHttp(client, voice_id="v", model="eleven_flash_v2_5", timeout=5),
            "http plain (1.0)": PlainHttp(client),
            "websocket (stream-input)": ElevenLabsSocket(url, "k", voice_id="v", model="eleven_flash_v2_5",
                                                         timeout=5),
        }
        samples: dict[str, list[float]] = {name: [] for name in transports}
        for synth in transports.values():
            await first_audio_ms(synth, "warm up.")
        for i in range(pieces):
            for name, synth in transports.items():
                samples[name].append(await first_audio_ms(synth, SENTENCES[i % 3]))
        base = statistics.median(samples["http plain (1.0)"])
        for name, values in samples.items():
            values.sort()
            p50 = statistics.median(values)
            print(f"{name:26s} first audio p50 {p50:6.1f} ms  p95 {values[int(len(values) * 0.95)]:6.1f} ms  "
                  f"p50 / plain {p50 / base:5.3f}  (fake TTFB 30 ms)")
        await http.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pieces", type=int, default=60)
    asyncio.run(main(parser.parse_args().pieces))
