import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import { itemsOf, type Persona } from "../api/types";
import { ErrorMessage, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { labelOf } from "../scorecard";

/** Fields the server owns; everything else a persona has is editable here. */
const READ_ONLY = new Set(["id", "dealership_id", "created_at", "updated_at", "builtin", "built_in", "version"]);
const BLANK: Record<string, unknown> = { name: "", description: "", difficulty: "medium", objections: [] };

type Draft = Record<string, string | boolean>;

function toDraft(persona: Record<string, unknown>): Draft {
  const draft: Draft = {};
  for (const [key, value] of Object.entries(persona)) {
    if (READ_ONLY.has(key)) continue;
    if (typeof value === "boolean") draft[key] = value;
    else if (typeof value === "string" || typeof value === "number") draft[key] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) draft[key] = value.join(", ");
  }
  return draft;
}

function fromDraft(draft: Draft, original: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(draft)) {
    const before = original[key];
    if (Array.isArray(before)) body[key] = String(value).split(",").map((s) => s.trim()).filter(Boolean);
    else if (typeof before === "number") body[key] = Number(value);
    else body[key] = value;
  }
  return body;
}

function Editor({ persona, onDone }: { persona: Record<string, unknown> | null; onDone: () => void }) {
  const original = persona ?? BLANK;
  const [draft, setDraft] = useState<Draft>(toDraft(original));
  const [error, setError] = useState<string>();
  const id = persona?.id as string | undefined;

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      const body = fromDraft(draft, original);
      if (id) await api("PATCH", `/api/v1/personas/${id}`, { body });
      else await api("POST", "/api/v1/personas", { body });
      onDone();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <form className="card form-grid" onSubmit={save} aria-label={id ? `Edit ${String(persona?.name)}` : "New persona"}>
      <h2>{id ? `Edit ${String(persona?.name)}` : "New persona"}</h2>
      {Object.entries(draft).map(([key, value]) =>
        typeof value === "boolean" ? (
          <label key={key} className="checkbox">
            <input type="checkbox" checked={value} onChange={(e) => setDraft({ ...draft, [key]: e.target.checked })} />
            {labelOf(key)}
          </label>
        ) : (
          <label key={key} className={value.length > 60 || key.includes("prompt") || key === "description" ? "wide" : ""}>
            {labelOf(key)}
            {Array.isArray(original[key]) ? <span className="muted small"> (comma-separated)</span> : null}
            {value.length > 60 || key.includes("prompt") || key === "description" ? (
              <textarea rows={3} value={value} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
            ) : (
              <input value={value} required={key === "name"} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
            )}
          </label>
        ),
      )}
      <ErrorMessage error={error} />
      <div className="row">
        <button type="submit">Save</button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export default function Personas() {
  const list = useResource<Persona[] | { items: Persona[] }>(
    // Inactive ones too: a disabled persona (a built-in disabled for this dealership included) stays
    // listed so it can be enabled again.
    "/api/v1/personas?include_inactive=true",
  );
  const [editing, setEditing] = useState<Persona | "new" | null>(null);
  const [error, setError] = useState<string>();
  const personas = list.data ? itemsOf<Persona>(list.data) : [];

  async function toggle(p: Persona) {
    const field = "active" in p ? "active" : "enabled";
    try {
      await api("PATCH", `/api/v1/personas/${p.id}`, { body: { [field]: p[field] === false } });
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  const done = () => {
    setEditing(null);
    void list.reload();
  };

  return (
    <section>
      <PageHeader title="Personas">
        <button type="button" onClick={() => setEditing("new")}>
          New persona
        </button>
      </PageHeader>
      {editing ? <Editor key={editing === "new" ? "new" : editing.id} persona={editing === "new" ? null : editing} onDone={done} /> : null}
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} title="Personas could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      <ul className="card-list">
        {personas.map((p) => (
          <li key={p.id} className="card">
            <div className="row spread">
              <h2>{p.name}</h2>
              <StatusBadge status={p.active === false || p.enabled === false ? "disabled" : "active"} />
            </div>
            {p.description ? <p>{String(p.description)}</p> : null}
            <p className="muted small">
              {[p.difficulty, Array.isArray(p.objections) ? p.objections.join(", ") : null].filter(Boolean).join(" · ")}
            </p>
            <div className="row">
              {p.builtin ? null : (
                <button type="button" className="secondary" onClick={() => setEditing(p)}>
                  Edit
                </button>
              )}
              <button type="button" className="secondary" onClick={() => toggle(p)}>
                {p.active === false || p.enabled === false ? "Enable" : "Disable"}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
