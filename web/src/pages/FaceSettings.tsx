import { useEffect, useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { AvatarSettings, Dealership, Usage } from "../api/types";
import { ErrorMessage } from "../components/ui";
import { asApiError, useResource } from "../hooks";

/** The first instant of this calendar month, UTC: the photoreal minute cap's period. */
function monthStart(now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
}

/**
 * A dealership admin's face-to-face settings (`settings.avatar` of their dealership): the channel on
 * or off, the provider, the monthly cap of photoreal minutes, and the minutes used this month.
 */
export function FaceSettings({ dealershipId }: { dealershipId: string }) {
  const dealership = useResource<Dealership>(`/api/v1/dealerships/${dealershipId}`);
  const usage = useResource<Usage>("/api/v1/usage", { dealership_id: dealershipId, since: monthStart() });
  const [draft, setDraft] = useState<AvatarSettings>();
  const [cap, setCap] = useState("");
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const stored = dealership.data?.settings.avatar;

  useEffect(() => {
    if (!stored) return;
    setDraft(stored);
    setCap(stored.monthly_minutes_cap === null ? "" : String(stored.monthly_minutes_cap));
  }, [stored]);

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!draft) return;
    setError(undefined);
    setMessage(undefined);
    try {
      const avatar = { enabled: draft.enabled, provider: draft.provider, monthly_minutes_cap: cap.trim() === "" ? null : Number(cap) };
      await api("PATCH", `/api/v1/dealerships/${dealershipId}`, { body: { settings: { avatar } } });
      await dealership.reload();
      setMessage("Saved.");
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  const minutes = usage.data?.totals.avatar_minutes;
  return (
    <form className="card form-grid" onSubmit={save} aria-label="Face to face">
      <h2>Face to face</h2>
      <ErrorMessage error={dealership.error} title="The settings could not be loaded" />
      {draft ? (
        <>
          <label className="choice inline">
            <input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} />
            <span>Offer face to face</span>
          </label>
          <label>
            Avatar
            <select value={draft.provider ?? ""} onChange={(e) => setDraft({ ...draft, provider: (e.target.value || null) as AvatarSettings["provider"] })}>
              <option value="">Photoreal when the server has it, else built-in</option>
              <option value="liveavatar">Photoreal (HeyGen LiveAvatar)</option>
              <option value="builtin">Built-in avatar</option>
            </select>
          </label>
          <label>
            Photoreal minutes a month (empty: no cap)
            <input type="number" min={0} step={1} value={cap} onChange={(e) => setCap(e.target.value)} />
          </label>
          <p className="muted" data-testid="avatar-minutes">
            Photoreal minutes this month: {minutes === undefined ? "…" : minutes.toFixed(1)}
          </p>
          <ErrorMessage error={error} />
          <div className="row">
            <button type="submit">Save</button>
            {message ? <span role="status">{message}</span> : null}
          </div>
        </>
      ) : null}
    </form>
  );
}
