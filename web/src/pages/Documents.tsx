import { useEffect, useRef, useState, type DragEvent } from "react";
import { api } from "../api/http";
import type { DocumentItem, DocumentList, UploadResult } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { DealershipSelect } from "../components/DealershipSelect";
import { ErrorMessage, formatBytes, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { type FileOutcome, outcomesOf } from "../uploads";

const ACCEPT = ".pdf,.docx,.txt,.md,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document,text/plain,text/markdown";
const BUSY = new Set(["queued", "processing"]);

export default function Documents() {
  const user = useUser();
  const superAdmin = user.role === "super_admin";
  const [dealershipId, setDealershipId] = useState("");
  const scoped = superAdmin ? (dealershipId ? { dealership_id: dealershipId } : undefined) : {};
  const docs = useResource<DocumentList>(scoped ? "/api/v1/rag/documents" : null, scoped);
  const [dragging, setDragging] = useState(false);
  const [outcomes, setOutcomes] = useState<FileOutcome[]>([]);
  const [error, setError] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  const items = docs.data?.items ?? [];
  const pending = items.some((d) => BUSY.has(d.status));

  // Poll while anything is still queued or processing.
  useEffect(() => {
    if (!pending) return;
    const timer = window.setInterval(() => void docs.reload(), 1500);
    return () => window.clearInterval(timer);
  }, [pending, docs.reload]);

  async function upload(files: File[]) {
    if (files.length === 0) return;
    setError(undefined);
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    if (superAdmin) form.append("dealership_id", dealershipId);
    const names = files.map((f) => f.name);
    try {
      setOutcomes(outcomesOf(names, await api<UploadResult>("POST", "/api/v1/rag/upload", { body: form })));
    } catch (e) {
      setOutcomes(outcomesOf(names, asApiError(e)));
    }
    await docs.reload();
  }

  async function act(doc: DocumentItem, action: "delete" | "reindex") {
    setError(undefined);
    try {
      if (action === "delete") {
        if (!window.confirm(`Delete “${doc.filename}”? Its passages stop being used at once.`)) return;
        await api("DELETE", `/api/v1/rag/documents/${doc.id}`);
      } else {
        await api("POST", `/api/v1/rag/documents/${doc.id}/reindex`);
      }
    } catch (e) {
      setError(asApiError(e).message);
    }
    await docs.reload();
  }

  function drop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    void upload([...event.dataTransfer.files]);
  }

  return (
    <section>
      <PageHeader title="Documents" />
      {superAdmin ? (
        <DealershipSelect className="card" value={dealershipId} onChange={setDealershipId} />
      ) : null}
      {scoped ? (
        <>
          <div
            className={`dropzone card${dragging ? " dragging" : ""}`}
            data-testid="dropzone"
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={drop}
          >
            <p>
              <strong>Drop training documents here</strong>
              <br />
              <span className="muted">PDF, Word (DOCX), text or Markdown · many at once · up to 25 MB each</span>
            </p>
            <label className="button">
              Choose files
              <input
                ref={input}
                className="sr-only"
                type="file"
                multiple
                accept={ACCEPT}
                onChange={(e) => {
                  void upload([...(e.target.files ?? [])]);
                  e.target.value = "";
                }}
              />
            </label>
          </div>
          <div aria-live="polite">
            {outcomes.length > 0 ? (
              <ul className="upload-outcomes" data-testid="upload-outcomes" aria-label="Uploaded files">
                {outcomes.map((o, i) => (
                  <li key={`${i}-${o.filename}`} data-filename={o.filename} data-outcome={o.ok ? "uploaded" : "refused"}>
                    <strong>{o.filename}</strong>{" "}
                    <span className={o.ok ? "muted" : "error-text"}>{o.message}</span>
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
          <ErrorMessage error={error} />
          <ErrorMessage error={docs.error} title="Documents could not be loaded" />
          {docs.loading && !docs.data ? <Loading /> : null}
          <div className="table-wrap card">
            <table data-testid="documents">
              <caption className="sr-only">Your dealership's documents</caption>
              <thead>
                <tr>
                  <th scope="col">Document</th>
                  <th scope="col">Status</th>
                  <th scope="col">Pages</th>
                  <th scope="col">Passages</th>
                  <th scope="col">Size</th>
                  <th scope="col">Updated</th>
                  <th scope="col"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {items.length === 0 ? (
                  <tr>
                    <td colSpan={7} className="muted">
                      No documents yet.
                    </td>
                  </tr>
                ) : null}
                {items.map((d) => (
                  <tr key={d.id} data-status={d.status} data-filename={d.filename}>
                    <td>{d.filename}</td>
                    <td>
                      <StatusBadge status={d.status} />
                      {d.error ? <div className="error-text">{d.error}</div> : null}
                      {d.status_reason ? <div className="muted small">{d.status_reason}</div> : null}
                      {d.status === "queued" && d.waiting_behind ? (
                        <div className="muted small">{`Waiting behind ${d.waiting_behind} document${d.waiting_behind === 1 ? "" : "s"}`}</div>
                      ) : null}
                    </td>
                    <td>{d.pages ?? "—"}</td>
                    <td>{d.chunks}</td>
                    <td>{formatBytes(d.size)}</td>
                    <td>{formatDate(d.updated_at)}</td>
                    <td className="actions">
                      <button type="button" className="secondary" onClick={() => act(d, "reindex")} disabled={BUSY.has(d.status)} aria-label={`Re-index ${d.filename}`}>
                        Re-index
                      </button>
                      <button type="button" className="danger" onClick={() => act(d, "delete")} aria-label={`Delete ${d.filename}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </section>
  );
}
