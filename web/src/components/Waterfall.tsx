/**
 * Per-turn latency waterfall: each stage of a voice turn drawn from the end of the user's speech
 * (endpointing -> STT -> LLM first token -> TTS first byte), with first audio as a marker: the
 * voice `metrics` event, also stored in the message's `metrics`. Text turns show the message's
 * `timings`: time to first token and total.
 */

/** A message's `metrics` and `timings` (open objects on the server: every value is checked). */
type Metrics = Record<string, unknown>;

interface Segment {
  label: string;
  start: number;
  duration: number;
  kind: string;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function segmentsOf(m: Metrics): { segments: Segment[]; marker: number | null } {
  const segments: Segment[] = [];
  let t = 0;
  for (const [key, label] of [
    ["endpoint_ms", "End of turn"],
    ["stt_ms", "Speech to text"],
    ["llm_ttft_ms", "LLM first token"],
    ["tts_ttfb_ms", "TTS first byte"],
  ] as const) {
    const d = num(m[key]);
    if (d === null) continue;
    segments.push({ label, start: t, duration: d, kind: key });
    t += d;
  }
  if (segments.length === 0) {
    const ttft = num(m.ttft_ms);
    const total = num(m.total_ms);
    if (ttft !== null) segments.push({ label: "First token", start: 0, duration: ttft, kind: "llm_ttft_ms" });
    if (total !== null) segments.push({ label: "Full answer", start: ttft ?? 0, duration: Math.max(0, total - (ttft ?? 0)), kind: "total_ms" });
  }
  return { segments, marker: num(m.first_audio_ms) };
}

export interface WaterfallTurn {
  id: string;
  label: string;
  metrics: Metrics;
}

export function Waterfall({ turns }: { turns: WaterfallTurn[] }) {
  const rows = turns.map((t) => ({ ...t, ...segmentsOf(t.metrics) })).filter((r) => r.segments.length > 0);
  if (rows.length === 0) return <p className="muted">No timings recorded for this session.</p>;
  const max = Math.max(...rows.flatMap((r) => [...r.segments.map((s) => s.start + s.duration), r.marker ?? 0]), 1);
  return (
    <div className="waterfall" data-testid="waterfall">
      {rows.map((row) => (
        <div className="waterfall-row" key={row.id}>
          <div className="waterfall-label">{row.label}</div>
          <div className="waterfall-track" role="list" aria-label={`Timings for ${row.label}`}>
            {row.segments.map((s) => (
              <span
                role="listitem"
                key={s.kind}
                className={`seg seg-${s.kind}`}
                ref={(el) => {
                  // Sizes go through the CSSOM, which the CSP allows (it forbids style attributes in markup).
                  if (el) {
                    el.style.left = `${(s.start / max) * 100}%`;
                    el.style.width = `${Math.max(0.5, (s.duration / max) * 100)}%`;
                  }
                }}
                title={`${s.label}: ${Math.round(s.duration)} ms`}
              >
                <span className="sr-only">
                  {s.label}: {Math.round(s.duration)} ms
                </span>
              </span>
            ))}
            {row.marker !== null ? (
              <span
                className="marker"
                ref={(el) => {
                  if (el) el.style.left = `${((row.marker ?? 0) / max) * 100}%`;
                }}
                title={`First audio: ${Math.round(row.marker)} ms`}
              >
                <span className="sr-only">First audio at {Math.round(row.marker)} ms</span>
              </span>
            ) : null}
          </div>
          <div className="waterfall-total">{Math.round(row.marker ?? row.segments.reduce((a, s) => Math.max(a, s.start + s.duration), 0))} ms</div>
        </div>
      ))}
      <ul className="legend" aria-label="Legend">
        <li><span className="seg-endpoint_ms swatch" /> end of turn</li>
        <li><span className="seg-stt_ms swatch" /> speech to text</li>
        <li><span className="seg-llm_ttft_ms swatch" /> LLM first token</li>
        <li><span className="seg-tts_ttfb_ms swatch" /> TTS first byte</li>
        <li><span className="seg-total_ms swatch" /> full answer (text turns)</li>
      </ul>
    </div>
  );
}
