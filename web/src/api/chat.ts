/** Text chat (issue 4 contract): POST /api/v1/chat streamed as Server-Sent Events. */
import { ApiError, errorFrom, send } from "./http";
import { readSse } from "./sse";
import type { ChatSource, Mode } from "./types";

export interface ChatRequest {
  message: string;
  mode: Mode;
  persona_id?: string;
  session_id?: string;
}

export interface ChatHandlers {
  delta: (text: string) => void;
  sources: (sources: ChatSource[]) => void;
  done: (result: { message_id: string; session_id: string }) => void;
}

export async function streamChat(request: ChatRequest, handlers: ChatHandlers, signal?: AbortSignal): Promise<void> {
  const response = await send("POST", "/api/v1/chat", {
    body: request,
    headers: { accept: "text/event-stream" },
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await errorFrom(response);
  if (!response.body) throw new ApiError(502, "no_stream", "The answer did not arrive.");
  let finished = false;
  for await (const event of readSse(response.body)) {
    const data = JSON.parse(event.data) as Record<string, unknown>;
    if (event.event === "delta") handlers.delta(String(data.text ?? ""));
    else if (event.event === "sources") {
      handlers.sources((Array.isArray(data) ? data : (data.sources as ChatSource[] | undefined)) ?? []);
    } else if (event.event === "done") {
      finished = true;
      handlers.done(data as { message_id: string; session_id: string });
    } else if (event.event === "error") {
      throw new ApiError(503, String(data.code ?? "error"), String(data.message ?? "The answer failed."),
        { retryable: Boolean(data.retryable) });
    }
  }
  if (!finished) throw new ApiError(502, "stream_cut", "The answer was cut off; try again.", { retryable: true });
}
