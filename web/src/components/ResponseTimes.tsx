import { useUser } from "../auth/AuthContext";
import { ADMINS, allowed } from "../nav";
import { formatResponseTime, responseTimeMs } from "../timings";
import { Waterfall, type WaterfallTurn } from "./Waterfall";

/** Per-turn timings: a trainee sees each turn's response time, admins the waterfall of its stages. */
export function ResponseTimes({ turns }: { turns: WaterfallTurn[] }) {
  const user = useUser();
  if (allowed(user.role, ADMINS)) return <Waterfall turns={turns} />;
  const rows = turns.map((t) => ({ ...t, ms: responseTimeMs(t.metrics) }));
  if (rows.every((r) => r.ms === null)) return <p className="muted">No timings recorded for this session.</p>;
  return (
    <ul className="response-times" data-testid="response-times">
      {rows.map((row) => (
        <li key={row.id}>
          <span>{row.label}</span> <span className="muted">response time</span>{" "}
          <strong className="response-time">{formatResponseTime(row.ms)}</strong>
        </li>
      ))}
    </ul>
  );
}
