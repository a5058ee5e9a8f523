import { Link } from "react-router";
import type { SessionList, SessionSummary, UserList } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { ScoreChart, type ScorePoint } from "../components/ScoreChart";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { useResource } from "../hooks";
import { SESSION_STATUS_LABEL, sessionKind } from "../labels";

function when(s: SessionSummary): string {
  return s.ended_at ?? s.started_at;
}

export default function Dashboard() {
  const user = useUser();
  const sessions = useResource<SessionList>("/api/v1/sessions", { limit: "100" });
  const admin = user.role !== "user";
  const staff = useResource<UserList>(admin ? "/api/v1/users" : null, { limit: "1" });
  const items = sessions.data?.items ?? [];
  const points: ScorePoint[] = items.flatMap((s) =>
    s.overall_score !== null ? [{ at: new Date(when(s)), score: s.overall_score, label: `${s.scenario_title ?? s.persona_name} ${formatDate(when(s))}` }] : [],
  );

  return (
    <section>
      <PageHeader title="Dashboard" />
      <div className="grid">
        <article className="card">
          <h2>{admin ? "Scores across your dealership" : "Your scores over time"}</h2>
          {sessions.loading ? <Loading /> : null}
          <ErrorMessage error={sessions.error} title="Sessions could not be loaded" />
          {sessions.data ? <ScoreChart points={points} /> : null}
        </article>
        {admin ? (
          <article className="card stat">
            <h2>Staff</h2>
            <p className="big">{staff.data?.total ?? "—"}</p>
            <Link to="/staff">Manage staff</Link>
          </article>
        ) : (
          <article className="card stat">
            <h2>Keep practising</h2>
            <p>Short, frequent sessions build the habit.</p>
            <Link to="/practise">Start a session</Link>
          </article>
        )}
      </div>
      <article className="card">
        <h2>Recent sessions</h2>
        {items.length === 0 && !sessions.loading ? <p className="muted">No sessions yet.</p> : null}
        {items.length > 0 ? (
          <div className="table-wrap">
            <table data-testid="recent-sessions">
              <caption className="sr-only">Recent sessions</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  {admin ? <th scope="col">Salesperson</th> : null}
                  <th scope="col">Session</th>
                  <th scope="col">With</th>
                  <th scope="col">Status</th>
                  <th scope="col">Score</th>
                  <th scope="col"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {items.slice(0, 20).map((s) => (
                  <tr key={s.id} data-session-id={s.id} data-status={s.status}>
                    <td>{formatDate(when(s))}</td>
                    {admin ? <td>{s.user_name}</td> : null}
                    <td>{sessionKind(s)}</td>
                    <td>
                      {s.persona_name}
                      {s.scenario_title ? <span className="muted small"> · {s.scenario_title}</span> : null}
                    </td>
                    <td>
                      <StatusBadge status={s.status} label={SESSION_STATUS_LABEL[s.status]} />
                    </td>
                    <td>
                      {s.overall_score !== null ? Math.round(s.overall_score) : "—"}
                      {s.passed !== null ? (
                        <>
                          {" "}
                          <StatusBadge status={s.passed ? "passed" : "not-passed"} label={s.passed ? "passed" : "not passed"} />
                        </>
                      ) : null}
                    </td>
                    <td>
                      <Link to={`/sessions/${s.id}`}>Review</Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </article>
    </section>
  );
}
