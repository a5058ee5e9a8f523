import type { Source } from "../api/types";

export function Sources({ sources }: { sources: Source[] | undefined }) {
  if (!sources || sources.length === 0) return null;
  return (
    <details className="sources" open>
      <summary>Sources ({sources.length})</summary>
      <ul data-testid="sources">
        {sources.map((s, i) => (
          <li key={`${s.document_id}-${s.page ?? ""}-${i}`}>
            <span className="source-name">{s.filename}</span>
            {s.page !== null ? <span className="muted"> · page {s.page}</span> : null}
            {s.excerpt ? <p className="excerpt">{s.excerpt}</p> : null}
          </li>
        ))}
      </ul>
    </details>
  );
}
