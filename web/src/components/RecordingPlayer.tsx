/**
 * Plays a session's recording. The audio needs the access token, which an <audio src> cannot
 * send, so it is fetched through the API client into a blob URL (the CSP allows media-src blob:)
 * and released when the player goes away.
 */
import { useEffect, useState } from "react";
import { errorFrom, send } from "../api/http";
import { ErrorMessage, Loading } from "./ui";

export function RecordingPlayer({ url }: { url: string }) {
  const [src, setSrc] = useState<string>();
  const [error, setError] = useState<Error>();

  useEffect(() => {
    const abort = new AbortController();
    let objectUrl: string | undefined;
    setSrc(undefined);
    setError(undefined);
    (async () => {
      const response = await send("GET", url, { signal: abort.signal });
      if (!response.ok) throw await errorFrom(response);
      objectUrl = URL.createObjectURL(await response.blob());
      setSrc(objectUrl);
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) setError(err instanceof Error ? err : new Error(String(err)));
    });
    return () => {
      abort.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url]);

  if (error) return <ErrorMessage error={error} title="The recording could not be loaded" />;
  if (!src) return <Loading label="Loading the recording…" />;
  return <audio controls preload="metadata" src={src} aria-label="Session recording" data-testid="session-recording" />;
}
