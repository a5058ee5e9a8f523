import { useEffect, useState } from "react";
import { formatTimeLeft } from "../timeLeft";

/**
 * A scenario's time limit counting down to `deadline` (ms since the epoch, this page's clock);
 * `onExpire` runs once when it reaches zero. The server enforces the limit: this only shows it.
 */
export function TimeLeft({ deadline, onExpire }: { deadline: number; onExpire?: () => void }) {
  const [now, setNow] = useState(() => Date.now());
  const left = deadline - now;
  useEffect(() => {
    if (left <= 0) {
      onExpire?.();
      return;
    }
    const timer = setTimeout(() => setNow(Date.now()), Math.min(1000, left));
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [now, deadline]);
  return (
    <span className={`badge time-left${left <= 60_000 ? " badge-open" : ""}`} role="timer" aria-label="Time left" data-testid="time-left">
      {left > 0 ? `${formatTimeLeft(left)} left` : "Time is up"}
    </span>
  );
}
