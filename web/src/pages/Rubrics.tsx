import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Criterion, Rubric, RubricIn, RubricList, RubricPatch, Scale } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { DealershipSelect } from "../components/DealershipSelect";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { blankCriterion, criteriaProblems, SCALE_LABEL, withKeys } from "../scenarios";
import { TextField } from "./scenarios/ScenarioFields";

function CriteriaEditor({ criteria, onChange }: { criteria: Criterion[]; onChange: (criteria: Criterion[]) => void }) {
  const change = (i: number, patch: Partial<Criterion>) => onChange(criteria.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  const move = (i: number, by: number) => {
    const next = [...criteria];
    const [item] = next.splice(i, 1);
    next.splice(i + by, 0, item!);
    onChange(next);
  };
  return (
    <fieldset className="wide">
      <legend>Criteria</legend>
      <ol className="rows">
        {criteria.map((c, i) => {
          const name = c.label.trim() || `criterion ${i + 1}`;
          return (
            <li key={i} className="criterion-fields" aria-label={`Criterion ${i + 1}`}>
              <label>
                Label
                <input value={c.label} required onChange={(e) => change(i, { label: e.target.value })} />
              </label>
              <label>
                Key
                <input value={c.key} placeholder="from the label" pattern="[a-z0-9][a-z0-9_\-]{0,63}" onChange={(e) => change(i, { key: e.target.value })} />
              </label>
              <label>
                Weight
                <input type="number" min={0.1} max={100} step={0.1} required value={c.weight} onChange={(e) => change(i, { weight: Number(e.target.value) })} />
              </label>
              <label>
                Scale
                <select value={c.scale} onChange={(e) => change(i, { scale: e.target.value as Scale })}>
                  {(Object.entries(SCALE_LABEL) as [Scale, string][]).map(([key, label]) => (
                    <option key={key} value={key}>
                      {label}
                    </option>
                  ))}
                </select>
              </label>
              <label className="wide">
                Description (what the judge looks for)
                <textarea rows={2} value={c.description} onChange={(e) => change(i, { description: e.target.value })} />
              </label>
              <div className="row wide">
                <button type="button" className="secondary" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`Move ${name} up`}>
                  Up
                </button>
                <button type="button" className="secondary" disabled={i === criteria.length - 1} onClick={() => move(i, 1)} aria-label={`Move ${name} down`}>
                  Down
                </button>
                <button type="button" className="secondary" onClick={() => onChange(criteria.filter((_, j) => j !== i))} aria-label={`Remove ${name}`}>
                  Remove
                </button>
              </div>
            </li>
          );
        })}
      </ol>
      <button type="button" className="secondary" onClick={() => onChange([...criteria, blankCriterion()])} disabled={criteria.length >= 20}>
        Add a criterion
      </button>
    </fieldset>
  );
}

function Editor({ editing, template, onDone }: { editing?: Rubric; template?: Rubric; onDone: () => void }) {
  const superAdmin = useUser().role === "super_admin";
  const [dealershipId, setDealershipId] = useState("");
  const source = editing ?? template;
  const [name, setName] = useState(editing ? editing.name : template ? `${template.name} (copy)` : "");
  const [description, setDescription] = useState(source?.description ?? "");
  const [criteria, setCriteria] = useState<Criterion[]>(source ? source.criteria.map((c) => ({ ...c })) : [blankCriterion()]);
  const [error, setError] = useState<string>();
  const title = editing ? `Edit ${editing.name}` : "New rubric";

  async function save(event: FormEvent) {
    event.preventDefault();
    const keyed = withKeys(criteria);
    const problems = criteriaProblems(keyed);
    if (problems.length) return setError(problems.join(" "));
    setError(undefined);
    try {
      if (editing) {
        const body: RubricPatch = { name, description, criteria: keyed };
        await api("PATCH", `/api/v1/rubrics/${editing.id}`, { body });
      } else {
        const body: RubricIn = { name, description, criteria: keyed, dealership_id: superAdmin ? dealershipId : null };
        await api("POST", "/api/v1/rubrics", { body });
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
      <TextField label="Name" value={name} onChange={setName} required />
      <TextField label="Description" value={description} onChange={setDescription} long />
      <CriteriaEditor criteria={criteria} onChange={setCriteria} />
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

type Editing = { editing: Rubric } | { template: Rubric } | "new" | null;

export default function Rubrics() {
  const list = useResource<RubricList>("/api/v1/rubrics");
  const [editing, setEditing] = useState<Editing>(null);
  const [error, setError] = useState<string>();
  const rubrics = list.data?.items ?? [];

  async function remove(r: Rubric) {
    if (!window.confirm(`Delete the rubric “${r.name}”? Scenarios that use it must be moved to another first.`)) return;
    setError(undefined);
    try {
      await api("DELETE", `/api/v1/rubrics/${r.id}`);
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
      <PageHeader title="Rubrics">
        <button type="button" onClick={() => setEditing("new")}>
          New rubric
        </button>
      </PageHeader>
      <p className="muted">How a scenario is judged: each criterion is scored on its scale; the weights make the overall score out of 100.</p>
      {editing ? <Editor key={editorKey} {...(editing === "new" ? {} : editing)} onDone={done} /> : null}
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} title="Rubrics could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      <ul className="card-list" data-testid="rubrics">
        {rubrics.map((r) => (
          <li key={r.id} className="card" data-rubric-id={r.id}>
            <div className="row spread">
              <h2>{r.name}</h2>
              {r.builtin ? <span className="badge">built-in</span> : null}
            </div>
            {r.description ? <p>{r.description}</p> : null}
            <ul className="small">
              {r.criteria.map((c) => (
                <li key={c.key}>
                  {c.label} <span className="muted">({SCALE_LABEL[c.scale]}, weight {c.weight})</span>
                </li>
              ))}
            </ul>
            <div className="row">
              {r.builtin ? (
                <button type="button" className="secondary" onClick={() => setEditing({ template: r })} aria-label={`Copy ${r.name}`}>
                  Copy to edit
                </button>
              ) : (
                <>
                  <button type="button" className="secondary" onClick={() => setEditing({ editing: r })} aria-label={`Edit ${r.name}`}>
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => remove(r)} aria-label={`Delete ${r.name}`}>
                    Delete
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
