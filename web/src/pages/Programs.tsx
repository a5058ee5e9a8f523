import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Program, ProgramList, ScenarioList } from "../api/types";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";

const DEFAULT_LEVELS = { bronze: 60, silver: 75, gold: 90 };

export default function Programs() {
  const programs = useResource<ProgramList>("/api/v1/programs");
  const scenarios = useResource<ScenarioList>("/api/v1/scenarios");
  const [editing, setEditing] = useState<Program | null>(null);
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [levels, setLevels] = useState(DEFAULT_LEVELS);
  const [error, setError] = useState<string>();
  const titles = Object.fromEntries((scenarios.data?.items ?? []).map((s) => [s.id, s.title]));

  function edit(program: Program | null) {
    setEditing(program);
    setName(program?.name ?? "");
    setChosen(program?.scenario_ids ?? []);
    setLevels(program?.levels ?? DEFAULT_LEVELS);
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      const body = { name, scenario_ids: chosen, levels };
      if (editing) await api("PATCH", `/api/v1/programs/${editing.id}`, { body });
      else await api("POST", "/api/v1/programs", { body });
      edit(null);
      await programs.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  async function remove(program: Program) {
    if (!window.confirm(`Delete the programme “${program.name}”?`)) return;
    try {
      await api("DELETE", `/api/v1/programs/${program.id}`);
      await programs.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  const toggle = (id: string) => setChosen(chosen.includes(id) ? chosen.filter((c) => c !== id) : [...chosen, id]);
  return (
    <section>
      <PageHeader title="Programmes" />
      <form className="card stack" onSubmit={save} aria-labelledby="program-form">
        <h2 id="program-form">{editing ? `Edit ${editing.name}` : "New programme"}</h2>
        <label>
          Name
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset>
          <legend>Scenarios (pass all of them to be ready for review)</legend>
          {(scenarios.data?.items ?? []).map((s) => (
            <label key={s.id} className="choice inline">
              <input type="checkbox" checked={chosen.includes(s.id)} onChange={() => toggle(s.id)} />
              <span>{s.title}</span>
            </label>
          ))}
        </fieldset>
        <fieldset className="row">
          <legend>Levels: the best score a scenario needs</legend>
          {(["bronze", "silver", "gold"] as const).map((level) => (
            <label key={level}>
              {level[0]!.toUpperCase() + level.slice(1)}
              <input type="number" min={0} max={100} required value={levels[level]} onChange={(e) => setLevels({ ...levels, [level]: Number(e.target.value) })} />
            </label>
          ))}
        </fieldset>
        <ErrorMessage error={error} />
        <p className="row">
          <button type="submit" disabled={chosen.length === 0}>{editing ? "Save programme" : "Create programme"}</button>
          {editing ? <button type="button" className="secondary" onClick={() => edit(null)}>Cancel</button> : null}
        </p>
      </form>
      {programs.loading && !programs.data ? <Loading /> : null}
      <ErrorMessage error={programs.error} title="Programmes could not be loaded" />
      <ul className="card-list">
        {(programs.data?.items ?? []).map((p) => (
          <li key={p.id} className="card" data-testid="program">
            <h3>{p.name}</h3>
            <p className="muted">{p.scenario_ids.map((id) => titles[id] ?? id).join(", ")}</p>
            <p className="muted">Bronze {p.levels.bronze} · Silver {p.levels.silver} · Gold {p.levels.gold}</p>
            <p className="row">
              <button type="button" className="secondary" onClick={() => edit(p)}>Edit</button>
              <button type="button" className="danger" onClick={() => void remove(p)}>Delete</button>
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
