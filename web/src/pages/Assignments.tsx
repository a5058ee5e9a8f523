import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Assignment, AssignmentList, ProgramList, ProgressStatus, ScenarioList, TeamList, UserList } from "../api/types";
import { PeoplePicker } from "../components/PeoplePicker";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { score, STATUS_BADGE, STATUS_LABEL } from "../practice";

/** A local date and time input's value a week from now (what a manager most often picks). */
function nextWeek(): string {
  const d = new Date(Date.now() + 7 * 86_400_000);
  d.setMinutes(0, 0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function CreateForm({ onDone }: { onDone: () => void }) {
  const scenarios = useResource<ScenarioList>("/api/v1/scenarios");
  const programs = useResource<ProgramList>("/api/v1/programs");
  const teams = useResource<TeamList>("/api/v1/teams");
  const people = useResource<UserList>("/api/v1/users", { role: "user", active: "true", limit: "200" });
  const [what, setWhat] = useState("");
  const [teamId, setTeamId] = useState("");
  const [userIds, setUserIds] = useState<string[]>([]);
  const [dueAt, setDueAt] = useState(nextWeek);
  const [minAttempts, setMinAttempts] = useState(1);
  const [passScore, setPassScore] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const [kind, id] = what.split(":", 2) as [string, string];
    try {
      await api("POST", "/api/v1/assignments", {
        body: {
          ...(kind === "program" ? { program_id: id } : { scenario_id: id }),
          ...(teamId ? { team_id: teamId } : {}),
          user_ids: userIds,
          due_at: new Date(dueAt).toISOString(),
          min_attempts: minAttempts,
          pass_score: passScore === "" ? null : Number(passScore),
        },
      });
      setUserIds([]);
      setTeamId("");
      onDone();
    } catch (e) {
      setError(asApiError(e).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card stack" onSubmit={submit} aria-labelledby="assign-title">
      <h2 id="assign-title">Assign practice</h2>
      <label>
        What
        <select required value={what} onChange={(e) => setWhat(e.target.value)} aria-label="Scenario or programme">
          <option value="">Choose a scenario or programme…</option>
          <optgroup label="Scenarios">
            {(scenarios.data?.items ?? []).map((s) => (
              <option key={s.id} value={`scenario:${s.id}`}>{s.title}</option>
            ))}
          </optgroup>
          <optgroup label="Programmes">
            {(programs.data?.items ?? []).map((p) => (
              <option key={p.id} value={`program:${p.id}`}>{p.name}</option>
            ))}
          </optgroup>
        </select>
      </label>
      <label>
        Team
        <select value={teamId} onChange={(e) => setTeamId(e.target.value)}>
          <option value="">No team (people below)</option>
          {(teams.data?.items ?? []).map((t) => (
            <option key={t.id} value={t.id}>{t.name} ({t.member_ids.length})</option>
          ))}
        </select>
      </label>
      <PeoplePicker legend="People" people={people.data?.items ?? []} selected={userIds} onChange={setUserIds} />
      <div className="row">
        <label>
          Due
          <input type="datetime-local" required value={dueAt} onChange={(e) => setDueAt(e.target.value)} />
        </label>
        <label>
          Minimum attempts
          <input type="number" min={1} max={50} required value={minAttempts} onChange={(e) => setMinAttempts(Number(e.target.value))} />
        </label>
        <label>
          Pass mark (blank: the scenario's)
          <input type="number" min={0} max={100} value={passScore} onChange={(e) => setPassScore(e.target.value)} />
        </label>
      </div>
      <ErrorMessage error={error} />
      <p className="row">
        <button type="submit" disabled={busy || (!teamId && userIds.length === 0)}>Assign</button>
      </p>
    </form>
  );
}

function Row({ assignment, onWithdraw }: { assignment: Assignment; onWithdraw: () => void }) {
  return (
    <li className="card" data-testid="admin-assignment" data-assignment-id={assignment.id}>
      <div className="row spread">
        <div>
          <h3>{assignment.title}</h3>
          <p className="muted">Due {formatDate(assignment.due_at)} · {assignment.min_attempts} attempt(s) min.{assignment.pass_score !== null ? ` · pass mark ${assignment.pass_score}` : ""}</p>
        </div>
        <button type="button" className="danger" onClick={onWithdraw}>Withdraw</button>
      </div>
      <div className="table-wrap">
        <table>
          <thead>
            <tr><th>Person</th><th>Status</th><th>Attempts</th><th>First</th><th>Best</th><th>Latest</th><th>Passed</th></tr>
          </thead>
          <tbody>
            {assignment.progress.map((p) => (
              <tr key={p.user_id} data-testid="progress-row" data-status={p.status}>
                <td>{p.name}</td>
                <td><StatusBadge status={STATUS_BADGE[p.status]} label={STATUS_LABEL[p.status]} /></td>
                <td>{p.attempts}</td>
                <td>{score(p.first_score)}</td>
                <td>{score(p.best_score)}</td>
                <td>{score(p.latest_score)}</td>
                <td>{p.passed_at ? formatDate(p.passed_at) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </li>
  );
}

export default function Assignments() {
  const [status, setStatus] = useState<ProgressStatus | "">("");
  const [person, setPerson] = useState("");
  const [team, setTeam] = useState("");
  const list = useResource<AssignmentList>("/api/v1/assignments", {
    status: status || undefined,
    user_id: person || undefined,
    team_id: team || undefined,
    limit: "200",
  });
  const people = useResource<UserList>("/api/v1/users", { role: "user", limit: "200" });
  const teams = useResource<TeamList>("/api/v1/teams");
  const [error, setError] = useState<string>();

  async function withdraw(a: Assignment) {
    if (!window.confirm(`Withdraw “${a.title}”? Sessions already practised stay.`)) return;
    try {
      await api("DELETE", `/api/v1/assignments/${a.id}`);
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <section>
      <PageHeader title="Assignments" />
      <CreateForm onDone={() => void list.reload()} />
      <div className="row">
        <label>
          Show
          <select value={status} onChange={(e) => setStatus(e.target.value as ProgressStatus | "")}>
            <option value="">All</option>
            {(Object.keys(STATUS_LABEL) as ProgressStatus[]).map((s) => (
              <option key={s} value={s}>Someone {STATUS_LABEL[s].toLowerCase()}</option>
            ))}
          </select>
        </label>
        {/* Separate labels: a wrapping one would fold the options' text (people's names) into the name. */}
        <label htmlFor="filter-person">Person</label>
        <select id="filter-person" value={person} onChange={(e) => setPerson(e.target.value)}>
          <option value="">Everyone</option>
          {(people.data?.items ?? []).map((p) => (
            <option key={p.id} value={p.id}>{p.name || p.email}</option>
          ))}
        </select>
        <label htmlFor="filter-team">Team</label>
        <select id="filter-team" value={team} onChange={(e) => setTeam(e.target.value)}>
          <option value="">Any team</option>
          {(teams.data?.items ?? []).map((t) => (
            <option key={t.id} value={t.id}>{t.name}</option>
          ))}
        </select>
      </div>
      {list.loading && !list.data ? <Loading /> : null}
      <ErrorMessage error={list.error ?? error} title="Assignments" />
      {list.data && list.data.items.length === 0 ? <p className="muted">No assignments.</p> : null}
      <ul className="stack plain">
        {(list.data?.items ?? []).map((a) => (
          <Row key={a.id} assignment={a} onWithdraw={() => void withdraw(a)} />
        ))}
      </ul>
    </section>
  );
}
