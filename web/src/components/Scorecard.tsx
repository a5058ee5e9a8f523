import { readScorecard } from "../scorecard";

export function Scorecard({ scorecard }: { scorecard: unknown }) {
  const view = readScorecard(scorecard);
  if (!view) return <p className="muted">No scorecard yet: end the session to get one.</p>;
  return (
    <section className="card scorecard" data-testid="scorecard" aria-labelledby="scorecard-title">
      <h2 id="scorecard-title">
        Scorecard {view.overall !== null ? <span className="overall">{view.overall.toFixed(1)} / 5</span> : null}
      </h2>
      <ul className="dimensions">
        {view.dimensions.map((d) => (
          <li key={d.key}>
            <div className="dimension-head">
              <span>{d.label}</span>
              <meter min={0} max={5} value={d.score ?? 0} aria-label={`${d.label} score`} />
              <strong>{d.score ?? "—"}</strong>
            </div>
            {d.evidence ? <blockquote>“{d.evidence}”</blockquote> : null}
          </li>
        ))}
      </ul>
      {view.facts.length > 0 ? (
        <dl className="facts">
          {view.facts.map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      ) : null}
    </section>
  );
}
