import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Webhook, WebhookCreated, WebhookDeliveryList, WebhookEvent, WebhookList } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { deliveryOutcome, toggleEvent, WEBHOOK_EVENTS } from "../webhooks";

function EventPicker({ value, onChange, legend }: { value: WebhookEvent[]; onChange: (v: WebhookEvent[]) => void; legend: string }) {
  return (
    <fieldset className="event-picker wide">
      <legend>{legend}</legend>
      {WEBHOOK_EVENTS.map((e) => (
        <label key={e.value} className="checkbox">
          <input type="checkbox" checked={value.includes(e.value)} onChange={() => onChange(toggleEvent(value, e.value))} />
          <span>
            <code>{e.value}</code> <span className="muted small">{e.label}</span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

function Deliveries({ hook }: { hook: Webhook }) {
  const list = useResource<WebhookDeliveryList>(`/api/v1/webhooks/${hook.id}/deliveries`, { limit: "50" });
  const [error, setError] = useState<string>();

  async function replay(deliveryId: string) {
    setError(undefined);
    try {
      await api("POST", `/api/v1/webhooks/${hook.id}/deliveries/${deliveryId}/replay`);
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <div className="deliveries">
      <div className="row spread">
        <h3>Delivery log</h3>
        <button type="button" className="secondary" onClick={() => void list.reload()}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.items.length === 0 ? <p className="muted">Nothing sent yet.</p> : null}
      {list.data && list.data.items.length > 0 ? (
        <div className="table-wrap">
          <table data-testid="deliveries">
            <thead>
              <tr>
                <th>Event</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Response</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((d) => (
                <tr key={d.id}>
                  <td>
                    <code>{d.event_type}</code>
                    <div className="muted small">{d.event_id}{d.replay_of ? " · replay" : ""}</div>
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                    <div className="muted small">{deliveryOutcome(d)}</div>
                  </td>
                  <td>{d.attempts}</td>
                  <td>{d.response_code ?? "—"}</td>
                  <td>{formatDate(d.created_at)}</td>
                  <td>
                    <button type="button" className="secondary" disabled={!hook.active} onClick={() => void replay(d.id)}>
                      Replay
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function EndpointCard({ hook, onChange }: { hook: Webhook; onChange: () => Promise<void> }) {
  const [open, setOpen] = useState(false);
  const [editing, setEditing] = useState(false);
  const [events, setEvents] = useState<WebhookEvent[]>(hook.events as WebhookEvent[]);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();

  async function act(run: () => Promise<unknown>, done?: string) {
    setError(undefined);
    setMessage(undefined);
    try {
      await run();
      if (done) setMessage(done);
      await onChange();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <li className="card" data-testid="webhook">
      <div className="row spread">
        <div>
          <h2 className="break">{hook.url}</h2>
          <p className="muted small">
            {hook.events.join(", ")} · last success {formatDate(hook.last_success_at)}
          </p>
          {hook.description ? <p>{hook.description}</p> : null}
        </div>
        <StatusBadge status={hook.active ? "active" : "inactive"} />
      </div>
      {hook.disabled_reason ? <p className="error">{hook.disabled_reason}</p> : null}
      <div className="row">
        <button type="button" className={hook.active ? "secondary" : undefined} aria-pressed={hook.active}
          onClick={() => void act(() => api("PATCH", `/api/v1/webhooks/${hook.id}`, { body: { active: !hook.active } }))}>
          {hook.active ? "Switch off" : "Switch on"}
        </button>
        <button type="button" className="secondary" disabled={!hook.active}
          onClick={() => void act(() => api("POST", `/api/v1/webhooks/${hook.id}/test`), "A test event is on its way.")}>
          Send test event
        </button>
        <button type="button" className="secondary" aria-expanded={editing} onClick={() => setEditing(!editing)}>
          Events
        </button>
        <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
          Delivery log
        </button>
        <button type="button" className="danger"
          onClick={() => {
            if (window.confirm(`Delete the endpoint ${hook.url} and its delivery log?`)) {
              void act(() => api("DELETE", `/api/v1/webhooks/${hook.id}`));
            }
          }}>
          Delete
        </button>
      </div>
      {editing ? (
        <form className="form-grid"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            void act(() => api("PATCH", `/api/v1/webhooks/${hook.id}`, { body: { events } }), "Events saved.");
          }}>
          <EventPicker legend="Send these events" value={events} onChange={setEvents} />
          <button type="submit" disabled={events.length === 0}>Save events</button>
        </form>
      ) : null}
      {message ? <p role="status">{message}</p> : null}
      <ErrorMessage error={error} />
      {open ? <Deliveries hook={hook} /> : null}
    </li>
  );
}

export default function Webhooks() {
  const list = useResource<WebhookList>("/api/v1/webhooks", { limit: "200" });
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<WebhookEvent[]>(["session.completed", "scorecard.ready"]);
  const [created, setCreated] = useState<WebhookCreated>();
  const [error, setError] = useState<string>();

  async function create(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      const hook = await api<WebhookCreated>("POST", "/api/v1/webhooks", { body: { url, events, description } });
      setCreated(hook);
      setUrl("");
      setDescription("");
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <section>
      <PageHeader title="Webhooks" />
      <p className="muted">
        Your systems (LMS, CRM, a chat channel) receive signed events as they happen. Each request carries
        the <code>webhook-id</code>, <code>webhook-timestamp</code> and <code>webhook-signature</code> headers of the
        Standard Webhooks convention; verify them with the endpoint&apos;s secret.
      </p>
      {created ? (
        <div className="card" role="status" data-testid="webhook-secret">
          <h2>Signing secret for {created.url}</h2>
          <p>Copy it now: it is shown only this once.</p>
          <pre className="break">{created.secret}</pre>
          <button type="button" className="secondary" onClick={() => setCreated(undefined)}>
            I have saved it
          </button>
        </div>
      ) : null}
      <form className="card form-grid" onSubmit={create} aria-labelledby="new-webhook">
        <h2 id="new-webhook">New endpoint</h2>
        <label>
          URL
          <input required type="url" placeholder="https://example.com/sparring-events" maxLength={2000} value={url}
            onChange={(e) => setUrl(e.target.value)} />
        </label>
        <label>
          Description <span className="muted">(optional)</span>
          <input maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <EventPicker legend="Events" value={events} onChange={setEvents} />
        <button type="submit" disabled={events.length === 0}>Add endpoint</button>
      </form>
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.items.length === 0 ? <p className="muted">No endpoints yet.</p> : null}
      <ul className="card-list webhook-list" data-testid="webhooks">
        {(list.data?.items ?? []).map((hook) => (
          <EndpointCard key={hook.id} hook={hook} onChange={list.reload} />
        ))}
      </ul>
    </section>
  );
}
