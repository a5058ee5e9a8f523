import { lazy, Suspense, useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Difficulty, Objection, Persona, PersonaIn, PersonaList, PersonaPatch } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { DealershipSelect } from "../components/DealershipSelect";
import { ErrorMessage, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { OBJECTIONS } from "../objections";
import { FaceSettings } from "./FaceSettings";
import { demeanourOf, LOOK_IDS, LOOK_LABELS, type LookId } from "../avatar/looks";

// The look's preview draws the avatar: its code loads with the first preview, not with this page.
const LookPreview = lazy(() => import("../avatar/LookPreview"));

const DIFFICULTIES: Difficulty[] = ["easy", "medium", "hard"];

/** The editable text of a persona; `lines` (the offline engine's scripted words) is kept as is. */
interface Draft {
  kind: Persona["kind"];
  name: string;
  summary: string;
  difficulty: Difficulty;
  vehicle: string;
  budget: string;
  personality: string;
  objections: Objection[];
  opening_line: string;
  agree_line: string;
  voice: string;
  /** The built-in avatar's look; null: the server derives one from the persona's id. */
  avatar_look: LookId | null;
}

const BLANK: Draft = {
  kind: "customer", name: "", summary: "", difficulty: "medium", vehicle: "", budget: "", personality: "",
  objections: [], opening_line: "", agree_line: "", voice: "", avatar_look: null,
};

function draftOf(p: Persona, name = p.name): Draft {
  return {
    kind: p.kind, name, summary: p.summary, difficulty: p.difficulty, vehicle: p.vehicle, budget: p.budget,
    personality: p.personality, objections: p.objections ?? [], opening_line: p.opening_line, agree_line: p.agree_line,
    voice: p.voice ?? "", avatar_look: p.avatar_look ?? null,
  };
}

function TextField({ label, value, onChange, long = false, required = false }: {
  label: string; value: string; onChange: (value: string) => void; long?: boolean; required?: boolean;
}) {
  return (
    <label className={long ? "wide" : ""}>
      {label}
      {long ? (
        <textarea rows={3} value={value} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input value={value} required={required} onChange={(e) => onChange(e.target.value)} />
      )}
    </label>
  );
}

/** Edits a dealership's persona (`editing`), or creates one, blank or copied from `template`. */
function Editor({ editing, template, onDone }: { editing?: Persona; template?: Persona; onDone: () => void }) {
  const superAdmin = useUser().role === "super_admin";
  const [dealershipId, setDealershipId] = useState("");
  const [draft, setDraft] = useState<Draft>(
    editing ? draftOf(editing) : template ? draftOf(template, `${template.name} (copy)`) : BLANK,
  );
  const [error, setError] = useState<string>();
  const set = <K extends keyof Draft>(key: K) => (value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const title = editing ? `Edit ${editing.name}` : "New persona";

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    const { kind, voice, ...fields } = draft;
    try {
      if (editing) {
        const body: PersonaPatch = { ...fields, voice: voice.trim() || null };
        await api("PATCH", `/api/v1/personas/${editing.id}`, { body });
      } else {
        const body: PersonaIn = {
          ...fields, kind, voice: voice.trim() || null, lines: template?.lines ?? {},
          dealership_id: superAdmin ? dealershipId : null,
        };
        await api("POST", "/api/v1/personas", { body });
      }
      onDone();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <form className="card form-grid" onSubmit={save} aria-label={title}>
      <h2>{title}</h2>
      {superAdmin && !editing ? (
        <DealershipSelect value={dealershipId} onChange={setDealershipId} />
      ) : null}
      <TextField label="Name" value={draft.name} onChange={set("name")} required />
      {editing ? null : (
        <label>
          Kind
          <select value={draft.kind} onChange={(e) => set("kind")(e.target.value as Draft["kind"])}>
            <option value="customer">Customer (role-play)</option>
            <option value="trainer">Trainer</option>
          </select>
        </label>
      )}
      <label>
        Difficulty
        <select value={draft.difficulty} onChange={(e) => set("difficulty")(e.target.value as Difficulty)}>
          {DIFFICULTIES.map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
      </label>
      <TextField label="Summary" value={draft.summary} onChange={set("summary")} long />
      <TextField label="Vehicle" value={draft.vehicle} onChange={set("vehicle")} />
      <TextField label="Budget" value={draft.budget} onChange={set("budget")} />
      <TextField label="Personality" value={draft.personality} onChange={set("personality")} long />
      <fieldset className="wide">
        <legend>Objections they raise</legend>
        {(Object.entries(OBJECTIONS) as [Objection, string][]).map(([key, label]) => (
          <label key={key} className="checkbox">
            <input
              type="checkbox"
              checked={draft.objections.includes(key)}
              onChange={(e) =>
                set("objections")(e.target.checked ? [...draft.objections, key] : draft.objections.filter((o) => o !== key))
              }
            />
            {label}
          </label>
        ))}
      </fieldset>
      <TextField label="Opening line" value={draft.opening_line} onChange={set("opening_line")} long />
      <TextField label="Agree line" value={draft.agree_line} onChange={set("agree_line")} long />
      <TextField label="Voice (optional)" value={draft.voice} onChange={set("voice")} />
      <div className="look-picker">
        <label>
          Face-to-face look
          <select value={draft.avatar_look ?? ""} onChange={(e) => set("avatar_look")((e.target.value || null) as LookId | null)}>
            <option value="">Chosen for this persona</option>
            {LOOK_IDS.map((look) => (
              <option key={look} value={look}>
                {LOOK_LABELS[look]}
              </option>
            ))}
          </select>
        </label>
        {draft.avatar_look ? (
          <Suspense fallback={null}>
            <LookPreview look={draft.avatar_look} demeanour={demeanourOf(draft)} />
          </Suspense>
        ) : null}
      </div>
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

type Editing = { editing: Persona } | { template: Persona } | "new" | null;

export default function Personas() {
  // Admins see disabled personas too, so they can enable them again.
  const list = useResource<PersonaList>("/api/v1/personas", { include_inactive: "true" });
  const [editing, setEditing] = useState<Editing>(null);
  const [error, setError] = useState<string>();
  const personas = list.data?.items ?? [];
  // A dealership admin sets their dealership's face to face here, beside the personas' looks.
  const dealershipId = useUser().dealership_id;

  async function toggle(p: Persona) {
    setError(undefined);
    try {
      const body: PersonaPatch = { active: !p.active };
      await api("PATCH", `/api/v1/personas/${p.id}`, { body });
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  const done = () => {
    setEditing(null);
    void list.reload();
  };
  const editorKey = editing === null || editing === "new" ? "new" : "editing" in editing ? editing.editing.id : `copy-${editing.template.id}`;

  return (
    <section>
      <PageHeader title="Personas">
        <button type="button" onClick={() => setEditing("new")}>
          New persona
        </button>
      </PageHeader>
      {dealershipId ? <FaceSettings dealershipId={dealershipId} /> : null}
      {editing ? <Editor key={editorKey} {...(editing === "new" ? {} : editing)} onDone={done} /> : null}
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} title="Personas could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      <ul className="card-list" data-testid="personas">
        {personas.map((p) => (
          <li key={p.id} className="card" data-persona-id={p.id}>
            <div className="row spread">
              <h2>{p.name}</h2>
              <span>
                <span className="badge">{p.kind === "trainer" ? "trainer" : "customer"}</span>{" "}
                {p.builtin ? <span className="badge">built-in</span> : null}{" "}
                <StatusBadge status={p.active ? "active" : "disabled"} />
              </span>
            </div>
            {p.summary ? <p>{p.summary}</p> : null}
            <p className="muted small">
              {[p.difficulty, ...(p.objections ?? []).map((o) => OBJECTIONS[o])].join(" · ")}
            </p>
            <div className="row">
              {p.builtin ? (
                <button type="button" className="secondary" onClick={() => setEditing({ template: p })} aria-label={`Copy ${p.name}`}>
                  Copy to edit
                </button>
              ) : (
                <button type="button" className="secondary" onClick={() => setEditing({ editing: p })} aria-label={`Edit ${p.name}`}>
                  Edit
                </button>
              )}
              {/* Built-ins too: disabling one hides it for this dealership only. */}
              <button type="button" className="secondary" onClick={() => toggle(p)} aria-label={`${p.active ? "Disable" : "Enable"} ${p.name}`}>
                {p.active ? "Disable" : "Enable"}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
