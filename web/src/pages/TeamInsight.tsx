/**
 * Team insight: a heatmap of people by objection type (average and best score), first attempt
 * versus best per scenario, practice time per week, the leaderboard (the dealership can switch it
 * off here) and a CSV download of all of it, for a date range and a team.
 */
import { useState } from "react";
import { api, errorFrom, send } from "../api/http";
import type { Dealership, DealershipList, TeamInsight as Insight, TeamList } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";

/** Background for a 0-100 score: red through amber to green. */
function heat(score: number): string {
  return `hsl(${Math.round((score / 100) * 120)}, 70%, 85%)`;
}

function dayStart(value: string): string | undefined {
  return value ? `${value}T00:00:00Z` : undefined;
}

function Bar({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <span className="bar" title={label} aria-label={label}>
      <span className="bar-fill" style={{ width: `${max > 0 ? Math.round((value / max) * 100) : 0}%` }} />
    </span>
  );
}

export default function TeamInsight() {
  const { user } = useAuth();
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [teamId, setTeamId] = useState("");
  const [error, setError] = useState<string>();
  // A super admin names the dealership (the API requires it); everyone else sees their own.
  const superAdmin = user?.role === "super_admin";
  const dealerships = useResource<DealershipList>(superAdmin ? "/api/v1/dealerships" : null, { limit: "200" });
  const [chosen, setChosen] = useState("");
  const dealershipId = superAdmin ? chosen || dealerships.data?.items[0]?.id : user?.dealership_id ?? undefined;
  const query = { from: dayStart(from), to: dayStart(to), team_id: teamId || undefined,
    dealership_id: superAdmin ? dealershipId : undefined };
  const ready = !superAdmin || dealershipId !== undefined;
  const insight = useResource<Insight>(ready ? "/api/v1/insights/team" : null, query);
  const teams = useResource<TeamList>("/api/v1/teams");
  const data = insight.data;
  const names = new Map((data?.people ?? []).map((p) => [p.user_id, p.name]));
  const cells = new Map((data?.heatmap ?? []).map((c) => [`${c.user_id}:${c.objection}`, c]));
  const maxWeek = Math.max(0, ...(data?.practice_weeks ?? []).map((w) => w.seconds));

  async function download() {
    setError(undefined);
    try {
      const response = await send("GET", "/api/v1/insights/team.csv", { query });
      if (!response.ok) throw await errorFrom(response);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = "team-insight.csv";
      link.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  async function toggleLeaderboard(enabled: boolean) {
    if (!dealershipId) return;
    setError(undefined);
    try {
      await api<Dealership>("PATCH", `/api/v1/dealerships/${dealershipId}`,
        { body: { settings: { leaderboard_enabled: enabled } } });
      await insight.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <section>
      <PageHeader title="Team insight">
        <button type="button" onClick={download}>Download CSV</button>
      </PageHeader>
      <div className="row card" role="group" aria-label="Filters">
        {superAdmin ? (
          <label>
            Dealership{" "}
            <select value={dealershipId ?? ""} onChange={(e) => { setChosen(e.target.value); setTeamId(""); }}>
              {(dealerships.data?.items ?? []).map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
            </select>
          </label>
        ) : null}
        <label>From <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
        <label>To <input type="date" value={to} onChange={(e) => setTo(e.target.value)} /></label>
        <label>
          Team{" "}
          <select value={teamId} onChange={(e) => setTeamId(e.target.value)}>
            <option value="">Everyone</option>
            {(teams.data?.items ?? []).filter((t) => t.dealership_id === dealershipId).map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
        </label>
      </div>
      <ErrorMessage error={insight.error ?? error} title="Team insight could not be loaded" />
      {insight.loading && !data ? <Loading /> : null}
      {data ? (
        <div className="stack">
          <article className="card">
            <h2>Objection heatmap</h2>
            <p className="muted small">Average and best overall score (0-100) of each person’s sessions practising each objection.</p>
            <div className="table-wrap">
              <table data-testid="heatmap">
                <thead>
                  <tr>
                    <th scope="col">Person</th>
                    {data.objection_types.map((o) => <th scope="col" key={o.key}>{o.label}</th>)}
                  </tr>
                </thead>
                <tbody>
                  {data.people.map((p) => (
                    <tr key={p.user_id} data-user-id={p.user_id}>
                      <th scope="row">{p.name}</th>
                      {data.objection_types.map((o) => {
                        const cell = cells.get(`${p.user_id}:${o.key}`);
                        return cell ? (
                          <td key={o.key} data-objection={o.key} style={{ background: heat(cell.average) }}
                            title={`${cell.sessions} session(s)`}>
                            {cell.average} <span className="muted small">best {cell.best}</span>
                          </td>
                        ) : <td key={o.key} data-objection={o.key} className="muted">—</td>;
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {data.people.length === 0 ? <p className="muted">No sessions in this range.</p> : null}
          </article>
          <article className="card">
            <h2>First attempt versus best</h2>
            <table data-testid="first-vs-best">
              <thead><tr><th scope="col">Person</th><th scope="col">Practised</th><th scope="col">First</th><th scope="col">Best</th><th scope="col">Attempts</th></tr></thead>
              <tbody>
                {data.first_vs_best.map((f) => (
                  <tr key={`${f.user_id}:${f.practice_key}`}>
                    <td>{names.get(f.user_id)}</td>
                    <td>{f.practice_label}</td>
                    <td><Bar value={f.first} max={100} label={`first ${f.first}`} /> {f.first}</td>
                    <td><Bar value={f.best} max={100} label={`best ${f.best}`} /> {f.best}</td>
                    <td>{f.attempts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </article>
          <article className="card">
            <h2>Practice time per week</h2>
            <table data-testid="practice-weeks">
              <thead><tr><th scope="col">Week of</th><th scope="col">Minutes</th><th scope="col">Sessions</th><th scope="col">People</th></tr></thead>
              <tbody>
                {data.practice_weeks.map((w) => (
                  <tr key={w.week_start}>
                    <td>{w.week_start.slice(0, 10)}</td>
                    <td><Bar value={w.seconds} max={maxWeek} label={`${Math.round(w.seconds / 60)} minutes`} /> {Math.round(w.seconds / 60)}</td>
                    <td>{w.sessions}</td>
                    <td>{w.people}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </article>
          <article className="card">
            <h2>Leaderboard</h2>
            {dealershipId ? (
              <label className="checkbox">
                <input type="checkbox" checked={data.leaderboard_enabled}
                  onChange={(e) => toggleLeaderboard(e.target.checked)} /> Show a leaderboard to managers
              </label>
            ) : null}
            {data.leaderboard ? (
              <ol data-testid="leaderboard">
                {data.leaderboard.map((e) => (
                  <li key={e.user_id}>{e.name}: average {e.average}, best {e.best}, {e.sessions} sessions, {e.passed} passed</li>
                ))}
              </ol>
            ) : <p className="muted">The leaderboard is switched off for this dealership.</p>}
          </article>
        </div>
      ) : null}
    </section>
  );
}
