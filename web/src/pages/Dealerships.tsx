import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import type { Dealership, DealershipList } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";

function AdminForm({ dealership, onDone }: { dealership: Dealership; onDone: () => void }) {
  const [form, setForm] = useState({ name: "", email: "", password: "" });
  // An emailed invite by default (nobody else knows the admin's password); a password stays possible.
  const [byEmail, setByEmail] = useState(true);
  const [message, setMessage] = useState<string>();
  return (
    <form
      className="form-grid inline-form"
      onSubmit={async (e: FormEvent) => {
        e.preventDefault();
        try {
          const { password, ...rest } = form;
          const body = { ...rest, ...(byEmail ? {} : { password }), role: "dealership_admin", dealership_id: dealership.id };
          await api("POST", "/api/v1/users", { body });
          setMessage(`${form.email} is now an admin of ${dealership.name}.${byEmail ? " An invite is on its way." : ""}`);
          setForm({ name: "", email: "", password: "" });
          onDone();
        } catch (err) {
          setMessage(asApiError(err).message);
        }
      }}
    >
      <label>
        Admin name
        <input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
      </label>
      <label>
        Admin email
        <input required type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
      </label>
      <fieldset className="choice">
        <legend>Sign-in</legend>
        <label>
          <input type="radio" name={`admin-mode-${dealership.id}`} checked={byEmail} onChange={() => setByEmail(true)} /> Email an invite
        </label>
        <label>
          <input type="radio" name={`admin-mode-${dealership.id}`} checked={!byEmail} onChange={() => setByEmail(false)} /> Set a password now
        </label>
      </fieldset>
      {byEmail ? null : (
        <label>
          Temporary password
          <input required type="password" minLength={8} autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
        </label>
      )}
      <button type="submit">Appoint admin</button>
      {message ? <p role="status">{message}</p> : null}
    </form>
  );
}

export default function Dealerships() {
  const list = useResource<DealershipList>("/api/v1/dealerships", { limit: "200" });
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<string>();

  async function create(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      await api("POST", "/api/v1/dealerships", { body: { name, ...(slug ? { slug } : {}) } });
      setName("");
      setSlug("");
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  async function toggle(d: Dealership) {
    try {
      await api("PATCH", `/api/v1/dealerships/${d.id}`, { body: { active: !d.active } });
      await list.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <section>
      <PageHeader title="Dealerships" />
      <form className="card form-grid" onSubmit={create} aria-labelledby="new-dealership">
        <h2 id="new-dealership">New dealership</h2>
        <label>
          Name
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Slug <span className="muted">(optional)</span>
          <input pattern="[a-z0-9]+(-[a-z0-9]+)*" maxLength={100} value={slug} onChange={(e) => setSlug(e.target.value)} />
        </label>
        <button type="submit">Create</button>
      </form>
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      <ul className="card-list" data-testid="dealerships">
        {(list.data?.items ?? []).map((d) => (
          <li key={d.id} className="card">
            <div className="row spread">
              <div>
                <h2>{d.name}</h2>
                <p className="muted small">
                  {d.slug} · created {formatDate(d.created_at)}
                </p>
              </div>
              <StatusBadge status={d.active ? "active" : "inactive"} />
            </div>
            <div className="row">
              <button type="button" className="secondary" aria-expanded={open === d.id} onClick={() => setOpen(open === d.id ? undefined : d.id)}>
                Appoint an admin
              </button>
              <button type="button" className={d.active ? "danger" : "secondary"} onClick={() => toggle(d)}>
                {d.active ? "Deactivate" : "Reactivate"}
              </button>
            </div>
            {open === d.id ? <AdminForm dealership={d} onDone={() => void list.reload()} /> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
