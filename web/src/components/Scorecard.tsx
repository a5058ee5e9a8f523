import type { Scorecard as ScorecardData } from "../api/types";
import { readScorecard } from "../scorecard";

export function Scorecard({ scorecard }: { scorecard: ScorecardData | null }) {
  if (!scorecard) return <p className="muted">No scorecard yet: end the session to get one.</p>;
  const view = readScorecard(scorecard);
  return (
    <section className="card scorecard" data-testid="scorecard" aria-labelledby="scorecard-title">
      <h2 id="scorecard-title">
        Scorecard {view.overall !== null ? <span className="overall">{view.overall.toFixed(0)} / 100</span> : null}
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
      <dl className="facts">
        {view.facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
