/** Scores over time (0-100, as every session summary gives them) as a small inline SVG line chart
 * (no chart library: it stays light). */

export interface ScorePoint {
  at: Date;
  score: number;
  label: string;
}

const W = 640;
const H = 220;
const PAD = { left: 36, right: 12, top: 12, bottom: 28 };

export function ScoreChart({ points }: { points: ScorePoint[] }) {
  if (points.length === 0) return <p className="muted">No scored sessions yet. Finish a practice session to see your progress.</p>;
  const sorted = [...points].sort((a, b) => a.at.getTime() - b.at.getTime());
  const x = (i: number) => PAD.left + (sorted.length === 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (sorted.length - 1));
  const y = (score: number) => PAD.top + ((100 - score) * (H - PAD.top - PAD.bottom)) / 100;
  const path = sorted.map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(p.score).toFixed(1)}`).join(" ");
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc" data-testid="score-chart">
        <title id="chart-title">Scores over time</title>
        <desc id="chart-desc">
          {sorted.length} sessions from {first.at.toLocaleDateString()} to {last.at.toLocaleDateString()}; latest score{" "}
          {Math.round(last.score)} out of 100.
        </desc>
        {[0, 25, 50, 75, 100].map((s) => (
          <g key={s}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(s)} y2={y(s)} className="grid" />
            <text x={PAD.left - 8} y={y(s) + 4} textAnchor="end" className="axis">
              {s}
            </text>
          </g>
        ))}
        <path d={path} className="line" />
        {sorted.map((p, i) => (
          <circle key={i} cx={x(i)} cy={y(p.score)} r={4} className="point">
            <title>{`${p.label}: ${Math.round(p.score)}`}</title>
          </circle>
        ))}
        <text x={PAD.left} y={H - 8} className="axis">
          {first.at.toLocaleDateString()}
        </text>
        <text x={W - PAD.right} y={H - 8} textAnchor="end" className="axis">
          {last.at.toLocaleDateString()}
        </text>
      </svg>
    </figure>
  );
}
