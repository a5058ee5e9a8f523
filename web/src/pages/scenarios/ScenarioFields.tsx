import type { Difficulty, HiddenFact, Mode, Objection, Persona, Rubric, ScenarioFieldsValue } from "../../api/types";
import { MODE_LABEL } from "../../labels";
import { OBJECTIONS } from "../../objections";
import { blankFact, DIFFICULTY_LABEL } from "../../scenarios";

export function TextField({ label, value, onChange, long = false, required = false }: {
  label: string; value: string; onChange: (value: string) => void; long?: boolean; required?: boolean;
}) {
  return (
    <label className={long ? "wide" : ""}>
      {label}
      {long ? (
        <textarea rows={3} value={value} required={required} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input value={value} required={required} onChange={(e) => onChange(e.target.value)} />
      )}
    </label>
  );
}

function FactsEditor({ facts, onChange }: { facts: HiddenFact[]; onChange: (facts: HiddenFact[]) => void }) {
  const change = (i: number, patch: Partial<HiddenFact>) => onChange(facts.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  return (
    <fieldset className="wide">
      <legend>Hidden facts (the customer says them only when asked well)</legend>
      {facts.length === 0 ? <p className="muted small">None yet.</p> : null}
      <ol className="rows">
        {facts.map((f, i) => (
          <li key={i} className="row-fields" aria-label={`Fact ${i + 1}`}>
            <label>
              About
              <input value={f.label} required placeholder="Current payment" onChange={(e) => change(i, { label: e.target.value })} />
            </label>
            <label className="grow">
              What the customer says
              <input value={f.value} required placeholder="I pay $389 a month on the Civic" onChange={(e) => change(i, { value: e.target.value })} />
            </label>
            <button type="button" className="secondary" onClick={() => onChange(facts.filter((_, j) => j !== i))} aria-label={`Remove fact ${i + 1}`}>
              Remove
            </button>
          </li>
        ))}
      </ol>
      <button type="button" className="secondary" onClick={() => onChange([...facts, blankFact()])}>
        Add a fact
      </button>
    </fieldset>
  );
}

/**
 * The fields of a scenario, for the editor and the builder's review. `personas` null hides the
 * customer choice (the builder's draft brings its own new persona).
 */
export function ScenarioFields({ value, onChange, personas, rubrics }: {
  value: ScenarioFieldsValue;
  onChange: (value: ScenarioFieldsValue) => void;
  personas: Persona[] | null;
  rubrics: Rubric[];
}) {
  const set = <K extends keyof ScenarioFieldsValue>(key: K) => (v: ScenarioFieldsValue[K]) => onChange({ ...value, [key]: v });
  return (
    <>
      <TextField label="Title" value={value.title} onChange={set("title")} required />
      {personas ? (
        <label>
          Customer
          <select required value={value.persona_id} onChange={(e) => set("persona_id")(e.target.value)}>
            <option value="">Choose a customer…</option>
            {personas.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label>
        Mode
        <select value={value.mode} onChange={(e) => set("mode")(e.target.value as Mode)}>
          {(Object.entries(MODE_LABEL) as [Mode, string][]).map(([key, label]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Difficulty
        <select value={value.difficulty} onChange={(e) => set("difficulty")(e.target.value as Difficulty)}>
          {(Object.entries(DIFFICULTY_LABEL) as [Difficulty, string][]).map(([key, label]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <TextField label="Situation" value={value.situation} onChange={set("situation")} long />
      <fieldset className="wide">
        <legend>Objections the customer raises (in the order ticked)</legend>
        {(Object.entries(OBJECTIONS) as [Objection, string][]).map(([key, label]) => {
          const at = value.objections.indexOf(key);
          return (
            <label key={key} className="checkbox">
              <input
                type="checkbox"
                checked={at >= 0}
                onChange={(e) => set("objections")(e.target.checked ? [...value.objections, key] : value.objections.filter((o) => o !== key))}
              />
              {label}
              {at >= 0 ? <span className="muted small">({at + 1})</span> : null}
            </label>
          );
        })}
      </fieldset>
      <FactsEditor facts={value.hidden_facts} onChange={set("hidden_facts")} />
      <TextField label="Goal (what the trainee must achieve)" value={value.goal} onChange={set("goal")} long />
      <label>
        Rubric
        <select value={value.rubric_id} onChange={(e) => set("rubric_id")(e.target.value)}>
          {rubrics.every((r) => r.id !== value.rubric_id) ? <option value={value.rubric_id}>{value.rubric_id}</option> : null}
          {rubrics.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Pass mark (0-100)
        <input type="number" min={0} max={100} required value={value.pass_score} onChange={(e) => set("pass_score")(Number(e.target.value))} />
      </label>
      <label>
        Time limit in minutes (optional)
        <input
          type="number"
          min={1}
          max={60}
          value={value.time_limit_s === null ? "" : Math.round(value.time_limit_s / 60)}
          onChange={(e) => set("time_limit_s")(e.target.value === "" ? null : Math.round(Number(e.target.value) * 60))}
        />
      </label>
    </>
  );
}
