import type { UserDetail } from "../api/types";

/** Checkboxes for a dealership's people (teams' members, an assignment's assignees). */
export function PeoplePicker({ people, selected, onChange, legend }: { people: UserDetail[]; selected: string[]; onChange: (ids: string[]) => void; legend: string }) {
  const toggle = (id: string) => onChange(selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id]);
  return (
    <fieldset className="people-picker">
      <legend>{legend}</legend>
      {people.length === 0 ? <p className="muted">No active salespeople yet.</p> : null}
      {people.map((p) => (
        <label key={p.id} className="choice inline">
          <input type="checkbox" checked={selected.includes(p.id)} onChange={() => toggle(p.id)} />
          <span>{p.name || p.email}</span>
        </label>
      ))}
    </fieldset>
  );
}
