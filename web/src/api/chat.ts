/**
 * Text chat: POST /api/v1/chat streamed as Server-Sent Events. OpenAPI describes only the JSON
 * answer (`ChatOut`), so the events are typed here from server/api/chat.py `_sse`: `delta`s,
 * then `sources`, then `done`; or one `error` (the user's message is kept: resend to retry).
 */
import { ApiError, errorFrom, send } from "./http";
import { readSse } from "./sse";
import type { ChatIn, ChatOut, Source } from "./types";

/** The message and mode are required; the rest have server defaults. */
export type ChatRequest = Pick<ChatIn, "message" | "mode"> & Partial<Omit<ChatIn, "message" | "mode">>;

export interface ChatDelta {
  text: string;
}
export interface ChatSources {
  sources: Source[];
}
/** The JSON answer's fields, less the text (sent as deltas) and the sources (their own event). */
export type ChatDone = Omit<ChatOut, "response" | "sources" | "persona_id">;
export interface ChatError {
  code: string;
  message: string;
  retryable: boolean;
  session_id: string;
  user_message_id: string | null;
}

export interface ChatHandlers {
  delta: (text: string) => void;
  sources: (sources: Source[]) => void;
  done: (result: ChatDone) => void;
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
    const data: unknown = JSON.parse(event.data);
    if (event.event === "delta") handlers.delta((data as ChatDelta).text);
    else if (event.event === "sources") handlers.sources((data as ChatSources).sources);
    else if (event.event === "done") {
      finished = true;
      handlers.done(data as ChatDone);
    } else if (event.event === "error") {
      const error = data as ChatError;
      throw new ApiError(503, error.code, error.message, { retryable: error.retryable, session_id: error.session_id });
    }
  }
  if (!finished) throw new ApiError(502, "stream_cut", "The answer was cut off; try again.", { retryable: true });
}
