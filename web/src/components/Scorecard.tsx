import { Link } from "react-router";
import type { AnyScorecard, Scorecard as ScorecardV1, ScorecardV2 as ScorecardV2Data } from "../api/types";
import { readScorecard } from "../scorecard";
import { isV2, readScorecardV2, type ScorecardContext } from "../scorecardV2";

export interface ScorecardProps extends ScorecardContext {
  scorecard: AnyScorecard | null;
  /** The session whose review page evidence links open (on that page they scroll to the message). */
  sessionId?: string;
}

/** Today's scorecard (sessions before scenarios, and training) or version 2, by the card's version. */
export function Scorecard({ scorecard, ...context }: ScorecardProps) {
  if (!scorecard) return <p className="muted">No scorecard yet: end the session to get one.</p>;
  return isV2(scorecard) ? <ScorecardV2 scorecard={scorecard} {...context} /> : <ScorecardClassic scorecard={scorecard} />;
}

function ScorecardClassic({ scorecard }: { scorecard: ScorecardV1 }) {
  const view = readScorecard(scorecard);
  return (
    <section className="card scorecard" data-testid="scorecard" aria-labelledby="scorecard-title">
      <h2 id="scorecard-title">
        {/* Only cards stored before version 2 come here: their overall is the 1-5 mean. */}
        Scorecard {view.overall !== null ? <span className="overall">{view.overall.toFixed(1)} / 5</span> : null}
      </h2>
      {view.summary ? <p>{view.summary}</p> : null}
      {view.dimensions.length > 0 ? (
        <ul className="dimensions">
          {view.dimensions.map((d) => (
            <li key={d.key}>
              <div className="dimension-head">
                <span>{d.label}</span>
                <meter min={0} max={5} value={d.score} aria-label={`${d.label} score`} />
                <strong>{d.score}</strong>
              </div>
              {d.evidence ? <blockquote>“{d.evidence}”</blockquote> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">Training sessions are not scored; role-play a customer to get scores.</p>
      )}
      <Figures figures={view.facts} />
    </section>
  );
}

function Figures({ figures }: { figures: [string, string][] }) {
  return (
    <dl className="facts">
      {figures.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ScorecardV2({ scorecard, sessionId, ...context }: { scorecard: ScorecardV2Data; sessionId?: string } & ScorecardContext) {
  const view = readScorecardV2(scorecard, context);
  const session = sessionId ?? scorecard.session_id;
  return (
    <section className="card scorecard" data-testid="scorecard" data-version="2" aria-labelledby="scorecard-title">
      <h2 id="scorecard-title">
        Scorecard{view.rubricName ? <span className="muted small"> · {view.rubricName}</span> : null}
        {view.overall !== null ? <span className="overall" data-testid="overall">{view.overall} / 100</span> : null}
      </h2>
      <p className="row">
        {view.verdict ? (
          <span className={`badge verdict badge-${view.passed ? "passed" : "not-passed"}`} data-testid="verdict">
            {view.verdict}
          </span>
        ) : null}
        {view.passMark !== null ? <span className="muted">Pass mark {view.passMark}</span> : null}
        {view.verdictReason ? <span className="muted">({view.verdictReason})</span> : null}
        {view.goal ? (
          <span className={`badge badge-${scorecard.goal_met ? "passed" : "not-passed"}`} data-testid="goal">
            {view.goal}
          </span>
        ) : null}
      </p>
      {view.summary ? <p>{view.summary}</p> : null}
      {view.criteria.length === 0 ? (
        <p className="muted">
          {scorecard.mode === "training" ? "Training sessions are not scored; role-play a customer to get scores." : "Nothing to score yet."}
        </p>
      ) : null}
      <ul className="dimensions criteria" aria-label="Criteria">
        {view.criteria.map((c) => (
          <li key={c.key} data-criterion={c.key}>
            <div className="dimension-head">
              <span>{c.label}</span>
              <meter min={0} max={1} value={c.fraction} aria-label={`${c.label} score`} />
              <strong>
                {c.score} / {c.max}
              </strong>
            </div>
            {c.reason ? <p className="reason">{c.reason}</p> : null}
            {c.evidence.length ? (
              <ul className="evidence" aria-label={`Evidence for ${c.label}`}>
                {c.evidence.map((e) => (
                  <li key={`${e.messageId}:${e.quote}`}>
                    <Link
                      to={session ? { pathname: `/sessions/${session}`, hash: e.hash } : { hash: e.hash }}
                      state={{ quote: e.quote }}
                      data-message-id={e.messageId}
                      title="Show this in the transcript"
                    >
                      “{e.quote}”
                    </Link>
                    {e.turn ? <span className="muted small"> turn {e.turn}</span> : null}
                  </li>
                ))}
              </ul>
            ) : null}
          </li>
        ))}
      </ul>
      {view.facts.length ? (
        <section aria-labelledby="facts-title" className="facts-uncovered">
          <h3 id="facts-title">Facts {view.factsSummary ? <span className="muted small">· {view.factsSummary}</span> : null}</h3>
          <ul data-testid="facts">
            {view.facts.map((f) => (
              <li key={f.key} data-fact={f.key} data-uncovered={f.uncovered ? "true" : "false"}>
                <span aria-hidden="true">{f.uncovered ? "✓" : "✗"}</span> <strong>{f.label}</strong>{" "}
                <span className="muted">{f.status}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <Figures figures={view.figures} />
    </section>
  );
}
