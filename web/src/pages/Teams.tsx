import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Team, TeamList, UserList } from "../api/types";
import { PeoplePicker } from "../components/PeoplePicker";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";

export default function Teams() {
  const teams = useResource<TeamList>("/api/v1/teams");
  const people = useResource<UserList>("/api/v1/users", { role: "user", active: "true", limit: "200" });
  const [editing, setEditing] = useState<Team | null>(null);
  const [name, setName] = useState("");
  const [members, setMembers] = useState<string[]>([]);
  const [error, setError] = useState<string>();

  function edit(team: Team | null) {
    setEditing(team);
    setName(team?.name ?? "");
    setMembers(team?.member_ids ?? []);
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      if (editing) await api("PATCH", `/api/v1/teams/${editing.id}`, { body: { name, member_ids: members } });
      else await api("POST", "/api/v1/teams", { body: { name, member_ids: members } });
      edit(null);
      await teams.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  async function remove(team: Team) {
    if (!window.confirm(`Delete the team “${team.name}”? Its assignments stay.`)) return;
    try {
      await api("DELETE", `/api/v1/teams/${team.id}`);
      await teams.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <section>
      <PageHeader title="Teams" />
      <form className="card stack" onSubmit={save} aria-labelledby="team-form">
        <h2 id="team-form">{editing ? `Edit ${editing.name}` : "New team"}</h2>
        <label>
          Name
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <PeoplePicker legend="Members" people={people.data?.items ?? []} selected={members} onChange={setMembers} />
        <ErrorMessage error={error} />
        <p className="row">
          <button type="submit">{editing ? "Save team" : "Create team"}</button>
          {editing ? <button type="button" className="secondary" onClick={() => edit(null)}>Cancel</button> : null}
        </p>
      </form>
      {teams.loading && !teams.data ? <Loading /> : null}
      <ErrorMessage error={teams.error} title="Teams could not be loaded" />
      <ul className="card-list">
        {(teams.data?.items ?? []).map((t) => (
          <li key={t.id} className="card" data-testid="team">
            <h3>{t.name}</h3>
            <p className="muted">{t.members.length ? t.members.map((m) => m.name).join(", ") : "No members"}</p>
            <p className="row">
              <button type="button" className="secondary" onClick={() => edit(t)}>Edit</button>
              <button type="button" className="danger" onClick={() => void remove(t)}>Delete</button>
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
