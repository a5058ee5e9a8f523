import type { Assignment, AssignmentList } from "../../api/types";
import { ErrorMessage, Loading, StatusBadge } from "../../components/ui";
import { useResource } from "../../hooks";
import { dueLabel, score, STATUS_BADGE, STATUS_LABEL } from "../../practice";

export interface AssignmentStart {
  assignmentId: string;
  scenarioId: string;
  title: string;
  channel: "voice" | "text";
}

/** A trainee's assignments, what needs doing first (the server orders them), each startable by voice or text. */
export function MyAssignments({ onStart, highlight }: { onStart: (start: AssignmentStart) => void; highlight?: string | null }) {
  const list = useResource<AssignmentList>("/api/v1/assignments");
  const items = list.data?.items ?? [];
  return (
    <section aria-labelledby="my-assignments" className="stack" data-testid="my-assignments">
      <h2 id="my-assignments">My assignments</h2>
      {list.loading && !list.data ? <Loading label="Loading your assignments…" /> : null}
      <ErrorMessage error={list.error} title="Your assignments could not be loaded" />
      {list.data && items.length === 0 ? <p className="muted">Nothing is assigned to you right now.</p> : null}
      <ul className="card-list">
        {items.map((a) => (
          <AssignmentCard key={a.id} assignment={a} onStart={onStart} highlighted={a.id === highlight} />
        ))}
      </ul>
    </section>
  );
}

function AssignmentCard({ assignment, onStart, highlighted }: { assignment: Assignment; onStart: (s: AssignmentStart) => void; highlighted: boolean }) {
  const mine = assignment.progress[0];
  const status = mine?.status ?? "not_started";
  const next = assignment.scenario_ids.find((id) => !mine?.scenarios.find((s) => s.scenario_id === id)?.passed) ?? assignment.scenario_ids[0];
  return (
    <li className={`card assignment${highlighted ? " highlighted" : ""}`} data-testid="assignment" data-assignment-id={assignment.id} data-status={status}>
      <div className="row spread">
        <h3>{assignment.title}</h3>
        <StatusBadge status={STATUS_BADGE[status]} label={STATUS_LABEL[status]} />
      </div>
      <p className="muted">
        {dueLabel(assignment.due_at)} · at least {assignment.min_attempts} attempt{assignment.min_attempts === 1 ? "" : "s"}
        {assignment.pass_score !== null ? ` · pass mark ${assignment.pass_score}` : ""}
      </p>
      <dl className="scores">
        <div><dt>Best</dt><dd data-testid="best-score">{score(mine?.best_score)}</dd></div>
        <div><dt>Latest</dt><dd>{score(mine?.latest_score)}</dd></div>
        <div><dt>Attempts</dt><dd>{mine?.attempts ?? 0}</dd></div>
      </dl>
      {assignment.scenario_ids.length > 1 ? (
        <ul className="plain">
          {assignment.scenario_ids.map((id) => (
            <li key={id}>
              {mine?.scenarios.find((s) => s.scenario_id === id)?.passed ? "✓ " : "○ "}
              {assignment.scenario_titles[id] ?? id}
            </li>
          ))}
        </ul>
      ) : null}
      {next ? (
        <p className="row">
          <button type="button" onClick={() => onStart({ assignmentId: assignment.id, scenarioId: next, title: assignment.scenario_titles[next] ?? assignment.title, channel: "voice" })}>
            Start (talk)
          </button>
          <button type="button" className="secondary" onClick={() => onStart({ assignmentId: assignment.id, scenarioId: next, title: assignment.scenario_titles[next] ?? assignment.title, channel: "text" })}>
            Start (type)
          </button>
        </p>
      ) : null}
    </li>
  );
}
