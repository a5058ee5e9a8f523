"""Token counts and cost: what the provider reports, or an estimate where it reports nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


def estimate_tokens(text: str) -> int:
    # About four characters per token for English (OpenAI's rule of thumb); used for the
    # history budget and for offline answers, never for billing a real provider's usage.
    return max(1, (len(text) + 3) // 4) if text else 0


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def priced(self, input_per_mtok: float, output_per_mtok: float) -> Usage:
        cost = (self.prompt_tokens * input_per_mtok + self.completion_tokens * output_per_mtok) / 1_000_000
        return Usage(self.prompt_tokens, self.completion_tokens, round(cost, 6), self.estimated)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_tokens": self.total_tokens}
