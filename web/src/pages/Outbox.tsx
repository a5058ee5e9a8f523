/** Outbox (development and test): the emails the server wrote, with their text. With no SMTP or
 * Mailgun configured they are kept here, so invites and resets can be followed on a fresh machine. */
import { useState } from "react";
import type { OutboxItem, OutboxList } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { useResource } from "../hooks";

const STATUSES = ["", "kept", "pending", "sending", "sent", "failed"] as const;

function Email({ item }: { item: OutboxItem }) {
  return (
    <li className="card" data-to={item.to}>
      <div className="row">
        <strong>{item.subject}</strong> <StatusBadge status={item.status} />
      </div>
      <div className="muted small">
        To {item.to} · {formatDate(item.created_at)} · {item.attempts} attempt{item.attempts === 1 ? "" : "s"}
        {item.sent_at ? ` · sent ${formatDate(item.sent_at)}` : ""}
      </div>
      {item.last_error ? <div className="small">Last error: {item.last_error}</div> : null}
      <pre className="email-text" data-testid="email-text">{item.text}</pre>
    </li>
  );
}

export default function Outbox() {
  const [status, setStatus] = useState<string>("");
  const outbox = useResource<OutboxList>("/api/v1/outbox", { limit: "100", ...(status ? { status } : {}) });
  const notHere = outbox.error?.status === 404;
  return (
    <section>
      <PageHeader title="Outbox">
        <button type="button" className="secondary" onClick={() => void outbox.reload()}>
          Refresh
        </button>
      </PageHeader>
      {notHere ? (
        <p>The outbox is shown only in development: in production, emails are read in the inbox they went to.</p>
      ) : (
        <>
          <p className="muted">
            {outbox.data?.transport
              ? `Emails are sent through ${outbox.data.transport}.`
              : "No SMTP or Mailgun is configured: emails are kept here (and shown by `sparring outbox`)."}
          </p>
          <label className="search">
            Status
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || "all"}
                </option>
              ))}
            </select>
          </label>
          <ErrorMessage error={outbox.error} />
          {outbox.loading && !outbox.data ? <Loading /> : null}
          {outbox.data && outbox.data.items.length === 0 ? <p>No emails yet.</p> : null}
          <ul className="plain-list" data-testid="outbox">
            {(outbox.data?.items ?? []).map((item) => (
              <Email key={item.id} item={item} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
