import { useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { api } from "../api/http";
import type { PersonaList, RubricList, Scenario, ScenarioFieldsValue, ScenarioIn, ScenarioList, ScenarioPatch } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { DealershipSelect } from "../components/DealershipSelect";
import { ErrorMessage, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { MODE_LABEL } from "../labels";
import { OBJECTIONS } from "../objections";
import { DIFFICULTY_LABEL, GENERAL_RUBRIC_ID, withKeys } from "../scenarios";
import { ScenarioFields } from "./scenarios/ScenarioFields";

const BLANK: ScenarioFieldsValue = {
  title: "", mode: "roleplay", persona_id: "", situation: "", objections: [], hidden_facts: [], goal: "",
  rubric_id: GENERAL_RUBRIC_ID, pass_score: 70, time_limit_s: null, difficulty: "medium", active: true,
};

function fieldsOf(s: Scenario, title = s.title): ScenarioFieldsValue {
  return {
    title, mode: s.mode, persona_id: s.persona_id, situation: s.situation, objections: [...(s.objections ?? [])],
    hidden_facts: (s.hidden_facts ?? []).map((f) => ({ ...f })), goal: s.goal, rubric_id: s.rubric_id, pass_score: s.pass_score,
    time_limit_s: s.time_limit_s ?? null, difficulty: s.difficulty, active: s.active,
  };
}

/** Edits a dealership's scenario (`editing`), or creates one, blank or copied from `template`. */
function Editor({ editing, template, onDone }: { editing?: Scenario; template?: Scenario; onDone: () => void }) {
  const superAdmin = useUser().role === "super_admin";
  const personas = useResource<PersonaList>("/api/v1/personas", { kind: "customer" });
  const rubrics = useResource<RubricList>("/api/v1/rubrics");
  const [dealershipId, setDealershipId] = useState("");
  const [value, setValue] = useState<ScenarioFieldsValue>(
    editing ? fieldsOf(editing) : template ? fieldsOf(template, `${template.title} (copy)`) : BLANK,
  );
  const [error, setError] = useState<string>();
  const title = editing ? `Edit ${editing.title}` : "New scenario";

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    const body = { ...value, hidden_facts: withKeys(value.hidden_facts) };
    try {
      if (editing) {
        const patch: ScenarioPatch = body;
        await api("PATCH", `/api/v1/scenarios/${editing.id}`, { body: patch });
      } else {
        const created: ScenarioIn = { ...body, persona: null, active: true, dealership_id: superAdmin ? dealershipId : null };
        await api("POST", "/api/v1/scenarios", { body: created });
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
      <ScenarioFields value={value} onChange={setValue} personas={personas.data?.items ?? []} rubrics={rubrics.data?.items ?? []} />
      <ErrorMessage error={personas.error ?? rubrics.error} />
      <ErrorMessage error={error} />
      <div className="row wide">
        <button type="submit">Save</button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

type Editing = { editing: Scenario } | { template: Scenario } | "new" | null;

export default function Scenarios() {
  // Admins see inactive scenarios too, so they can activate them again.
  const list = useResource<ScenarioList>("/api/v1/scenarios", { include_inactive: "true" });
  const rubrics = useResource<RubricList>("/api/v1/rubrics");
  const personas = useResource<PersonaList>("/api/v1/personas", { include_inactive: "true" });
  const [editing, setEditing] = useState<Editing>(null);
  const [error, setError] = useState<string>();
  const saved = (useLocation().state as { saved?: string } | null)?.saved;
  const scenarios = list.data?.items ?? [];
  const rubricName = (id: string) => rubrics.data?.items.find((r) => r.id === id)?.name ?? id;
  const personaName = (id: string) => personas.data?.items.find((p) => p.id === id)?.name ?? id;

  async function toggle(s: Scenario) {
    setError(undefined);
    try {
      const body: ScenarioPatch = { active: !s.active };
      await api("PATCH", `/api/v1/scenarios/${s.id}`, { body });
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
      <PageHeader title="Scenarios">
        <Link className="button secondary" to="/rubrics">
          Rubrics
        </Link>
        <Link className="button" to="/scenarios/builder">
          Build with the assistant
        </Link>
        <button type="button" onClick={() => setEditing("new")}>
          New scenario
        </button>
      </PageHeader>
      {saved ? (
        <p className="card" role="status">
          Saved “{saved}”. Salespeople can practise it now.
        </p>
      ) : null}
      {editing ? <Editor key={editorKey} {...(editing === "new" ? {} : editing)} onDone={done} /> : null}
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} title="Scenarios could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      <ul className="card-list" data-testid="scenarios">
        {scenarios.map((s) => (
          <li key={s.id} className="card" data-scenario-id={s.id}>
            <div className="row spread">
              <h2>{s.title}</h2>
              <span>
                {s.builtin ? <span className="badge">built-in</span> : <StatusBadge status={s.active ? "active" : "inactive"} />}
              </span>
            </div>
            {s.situation ? <p>{s.situation}</p> : null}
            <p className="muted small">
              {[DIFFICULTY_LABEL[s.difficulty], MODE_LABEL[s.mode], ...(s.objections ?? []).map((o) => OBJECTIONS[o])].join(" · ")}
            </p>
            <dl className="facts">
              <div>
                <dt>Customer</dt>
                <dd>{personaName(s.persona_id)}</dd>
              </div>
              <div>
                <dt>Rubric</dt>
                <dd>{rubricName(s.rubric_id)}</dd>
              </div>
              <div>
                <dt>Pass mark</dt>
                <dd>{s.pass_score}</dd>
              </div>
              <div>
                <dt>Hidden facts</dt>
                <dd>{s.hidden_facts?.length ?? 0}</dd>
              </div>
            </dl>
            <div className="row">
              {/* Built-ins are read-only on the server: they are copied, and the copy is edited. */}
              {s.builtin ? (
                <button type="button" className="secondary" onClick={() => setEditing({ template: s })} aria-label={`Copy ${s.title}`}>
                  Copy to edit
                </button>
              ) : (
                <>
                  <button type="button" className="secondary" onClick={() => setEditing({ editing: s })} aria-label={`Edit ${s.title}`}>
                    Edit
                  </button>
                  <button type="button" className="secondary" onClick={() => toggle(s)} aria-label={`${s.active ? "Deactivate" : "Activate"} ${s.title}`}>
                    {s.active ? "Deactivate" : "Activate"}
                  </button>
                </>
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
