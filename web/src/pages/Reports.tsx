import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/http";
import type { Report, ReportList, ReportPatch, ReportStatus } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";

function ReportCard({ report, onChange }: { report: Report; onChange: () => Promise<void> }) {
  const [resolution, setResolution] = useState("");
  const [error, setError] = useState<string>();

  async function update(status: ReportStatus) {
    setError(undefined);
    try {
      const body: ReportPatch = { status, ...(resolution.trim() ? { resolution: resolution.trim() } : {}) };
      await api("PATCH", `/api/v1/reports/${report.id}`, { body });
      await onChange();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <li className="card" data-report-id={report.id} data-status={report.status}>
      <div className="row spread">
        <strong>{report.reason}</strong>
        <StatusBadge status={report.status} />
      </div>
      <p className="muted small">
        {formatDate(report.created_at)} · <Link to={`/sessions/${report.session_id}`}>Open the session</Link>
      </p>
      {report.message_text !== null ? <blockquote>{report.message_text}</blockquote> : null}
      {report.status === "open" ? (
        <div className="stack">
          <label>
            What was done (optional)
            <input maxLength={2000} value={resolution} onChange={(e) => setResolution(e.target.value)} />
          </label>
          <div className="row">
            <button type="button" onClick={() => update("resolved")}>
              Mark resolved
            </button>
            <button type="button" className="secondary" onClick={() => update("dismissed")}>
              Dismiss
            </button>
          </div>
        </div>
      ) : (
        <div className="row">
          <p className="muted small">
            {report.status === "resolved" ? "Resolved" : "Dismissed"} {formatDate(report.resolved_at)}
            {report.resolution ? `: ${report.resolution}` : ""}
          </p>
          <button type="button" className="secondary" onClick={() => update("open")}>
            Reopen
          </button>
        </div>
      )}
      <ErrorMessage error={error} />
    </li>
  );
}

export default function Reports() {
  const list = useResource<ReportList>("/api/v1/reports");
  const reports = list.data?.items ?? [];

  return (
    <section>
      <PageHeader title="Reports of wrong answers" />
      <ErrorMessage error={list.error} title="Reports could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && reports.length === 0 ? <p className="muted">Nothing reported. Well done, Adam.</p> : null}
      <ul className="card-list" data-testid="reports">
        {reports.map((r) => (
          <ReportCard key={r.id} report={r} onChange={list.reload} />
        ))}
      </ul>
    </section>
  );
}
