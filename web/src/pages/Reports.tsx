import { Link } from "react-router";
import { api } from "../api/http";
import { itemsOf, type Report } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { useResource } from "../hooks";

function isResolved(r: Report): boolean {
  return r.resolved === true || r.status === "resolved";
}

export default function Reports() {
  const list = useResource<Report[] | { items: Report[] }>("/api/v1/reports");
  const reports = list.data ? itemsOf<Report>(list.data) : [];

  async function resolve(r: Report) {
    await api("PATCH", `/api/v1/reports/${r.id}`, { body: { status: "resolved" } });
    await list.reload();
  }

  return (
    <section>
      <PageHeader title="Reports of wrong answers" />
      <ErrorMessage error={list.error} title="Reports could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && reports.length === 0 ? <p className="muted">Nothing reported. Well done, Adam.</p> : null}
      <ul className="card-list">
        {reports.map((r) => (
          <li key={r.id} className="card">
            <div className="row spread">
              <strong>{r.reason}</strong>
              <StatusBadge status={isResolved(r) ? "resolved" : "open"} />
            </div>
            <p className="muted small">
              {formatDate(r.created_at)} · <Link to={`/sessions/${r.session_id}`}>Open the session</Link>
            </p>
            {r.message_text ? <blockquote>{String(r.message_text)}</blockquote> : null}
            {!isResolved(r) ? (
              <button type="button" onClick={() => resolve(r)}>
                Mark resolved
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
