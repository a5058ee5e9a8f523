import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/http";
import type { Report, ReportList, ReportPatch, ReportStatus } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { REPORT_STATUS_LABEL } from "../labels";

function ReportRow({ report, onChange }: { report: Report; onChange: () => Promise<void> }) {
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
    <tr data-report-id={report.id} data-status={report.status}>
      <td>{formatDate(report.created_at)}</td>
      <td>{report.reporter_name ?? "—"}</td>
      <td>
        <Link to={`/sessions/${report.session_id}`}>{report.persona_name ? `Session with ${report.persona_name}` : "Open the session"}</Link>
      </td>
      <td className="report-answer">
        {report.message_text !== null ? <blockquote>{report.message_text}</blockquote> : null}
        <p>
          <strong>{report.reason}</strong>
        </p>
      </td>
      <td>
        <StatusBadge status={report.status} label={REPORT_STATUS_LABEL[report.status]} />
        {report.status !== "open" ? (
          <p className="muted small">
            {formatDate(report.resolved_at)}
            {report.resolution ? `: ${report.resolution}` : ""}
          </p>
        ) : null}
      </td>
      <td className="report-actions">
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
          <button type="button" className="secondary" onClick={() => update("open")}>
            Reopen
          </button>
        )}
        <ErrorMessage error={error} />
      </td>
    </tr>
  );
}

export default function Reports() {
  const list = useResource<ReportList>("/api/v1/reports");
  const reports = list.data?.items ?? [];

  return (
    <section>
      <PageHeader title="Answer reports" />
      <p className="muted">Answers your staff reported as wrong or inappropriate during practice.</p>
      <ErrorMessage error={list.error} title="Reports could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && reports.length === 0 ? <p className="muted">Nothing reported. Well done, Adam.</p> : null}
      {reports.length > 0 ? (
        <div className="table-wrap card">
          <table data-testid="reports">
            <caption className="sr-only">Reported answers</caption>
            <thead>
              <tr>
                <th scope="col">Reported</th>
                <th scope="col">Reporter</th>
                <th scope="col">Session</th>
                <th scope="col">Answer and reason</th>
                <th scope="col">Status</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {reports.map((r) => (
                <ReportRow key={r.id} report={r} onChange={list.reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
