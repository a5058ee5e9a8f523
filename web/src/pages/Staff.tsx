import { useState, type FormEvent } from "react";
import { api } from "../api/http";
import { Link } from "react-router";
import type { DealershipList, OutboxList, Role, UserCreated, UserDetail, UserList, UserPatch } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { ErrorMessage, formatDate, Loading, PageHeader, StatusBadge } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { ROLE_LABEL } from "../nav";

function InviteForm({ onDone, dealerships, outbox }: { onDone: () => void; dealerships: DealershipList | undefined; outbox: boolean }) {
  const me = useUser();
  const [form, setForm] = useState({ email: "", name: "", password: "", role: "user" as Role, dealership_id: "" });
  // An emailed invite by default: the admin never knows the password. Setting one stays possible.
  const [byEmail, setByEmail] = useState(true);
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    const { dealership_id, password, ...rest } = form;
    try {
      const created = await api<UserCreated>("POST", "/api/v1/users", {
        body: {
          ...rest,
          ...(byEmail ? {} : { password }),
          ...(me.role === "super_admin" && dealership_id ? { dealership_id } : {}),
        },
      });
      setForm({ email: "", name: "", password: "", role: "user", dealership_id: "" });
      setDone(created.invite_expires_at ? `Invite sent to ${created.email}.` : `Account created for ${created.email}.`);
      onDone();
    } catch (e) {
      setError(asApiError(e).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card form-grid" onSubmit={submit} aria-labelledby="invite-title">
      <h2 id="invite-title">Invite a member of staff</h2>
      <label>
        Name
        <input required maxLength={200} value={form.name} onChange={set("name")} />
      </label>
      <label>
        Email
        <input required type="email" maxLength={254} value={form.email} onChange={set("email")} />
      </label>
      <fieldset className="choice">
        <legend>Sign-in</legend>
        <label>
          <input type="radio" name="invite-mode" checked={byEmail} onChange={() => setByEmail(true)} /> Email an invite
        </label>
        <label>
          <input type="radio" name="invite-mode" checked={!byEmail} onChange={() => setByEmail(false)} /> Set a password now
        </label>
      </fieldset>
      {byEmail ? null : (
        <label>
          Temporary password
          <input required type="password" minLength={8} autoComplete="new-password" value={form.password} onChange={set("password")} />
        </label>
      )}
      <label>
        Role
        <select value={form.role} onChange={set("role")}>
          <option value="user">{ROLE_LABEL.user}</option>
          <option value="dealership_admin">{ROLE_LABEL.dealership_admin}</option>
        </select>
      </label>
      {me.role === "super_admin" ? (
        <label>
          Dealership
          <select required value={form.dealership_id} onChange={set("dealership_id")}>
            <option value="">Choose…</option>
            {(dealerships?.items ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <ErrorMessage error={error} />
      {done ? (
        <p role="status">
          {done} {outbox && byEmail ? <Link to="/outbox">Open the outbox</Link> : null}
        </p>
      ) : null}
      <button type="submit" disabled={busy}>
        {busy ? "Inviting…" : "Invite"}
      </button>
    </form>
  );
}

function StaffRow({ user, onChange }: { user: UserDetail; onChange: () => void }) {
  const me = useUser();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(user.name);
  const [role, setRole] = useState<Role>(user.role);
  const [error, setError] = useState<string>();
  const self = me.id === user.id;

  const pending = user.invite_expires_at ?? null;

  // A new link to choose a password: what an admin does instead of choosing one for them.
  async function invite() {
    setError(undefined);
    try {
      await api("POST", `/api/v1/users/${user.id}/invite`);
      onChange(); // the row shows the new link's expiry
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  async function patch(body: UserPatch) {
    setError(undefined);
    try {
      await api("PATCH", `/api/v1/users/${user.id}`, { body });
      setEditing(false);
      onChange();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  return (
    <tr data-email={user.email}>
      <td>
        {editing ? (
          <label>
            <span className="sr-only">Name of {user.email}</span>
            <input value={name} onChange={(e) => setName(e.target.value)} />
          </label>
        ) : (
          user.name
        )}
        <div className="muted small">{user.email}</div>
        <ErrorMessage error={error} />
      </td>
      <td>
        {editing && !self && user.role !== "super_admin" ? (
          <label>
            <span className="sr-only">Role of {user.email}</span>
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="user">{ROLE_LABEL.user}</option>
              <option value="dealership_admin">{ROLE_LABEL.dealership_admin}</option>
            </select>
          </label>
        ) : (
          ROLE_LABEL[user.role]
        )}
      </td>
      <td>
        <StatusBadge status={user.active ? "active" : "inactive"} />{" "}
        {pending && user.active ? (
          <span title={`The link works until ${formatDate(pending)}`}>
            <StatusBadge status="pending" label="invite pending" />
          </span>
        ) : null}
      </td>
      <td>{user.last_login_at ? formatDate(user.last_login_at) : "Never"}</td>
      <td className="actions">
        {editing ? (
          <>
            <button type="button" onClick={() => patch({ name, ...(role !== user.role ? { role } : {}) })}>
              Save
            </button>
            <button type="button" className="secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </>
        ) : (
          <button type="button" className="secondary" onClick={() => setEditing(true)} aria-label={`Edit ${user.email}`}>
            Edit
          </button>
        )}
        {!self && user.active ? (
          <button type="button" className="secondary" onClick={() => void invite()} aria-label={`Email ${user.email} a new invite`}>
            {pending ? "Resend invite" : "Send invite"}
          </button>
        ) : null}
        {!self ? (
          <button
            type="button"
            className={user.active ? "danger" : "secondary"}
            onClick={() => patch({ active: !user.active })}
            aria-label={`${user.active ? "Deactivate" : "Reactivate"} ${user.email}`}
          >
            {user.active ? "Deactivate" : "Reactivate"}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

export default function Staff() {
  const me = useUser();
  const [q, setQ] = useState("");
  const users = useResource<UserList>("/api/v1/users", { limit: "200", ...(q ? { q } : {}) });
  const dealerships = useResource<DealershipList>(me.role === "super_admin" ? "/api/v1/dealerships" : null, { limit: "200" });
  // Served outside production only: where invites are read when no email is configured.
  const outbox = useResource<OutboxList>("/api/v1/outbox", { limit: "1" });
  return (
    <section>
      <PageHeader title="Staff">{outbox.data ? <Link to="/outbox">Outbox</Link> : null}</PageHeader>
      <InviteForm onDone={() => void users.reload()} dealerships={dealerships.data} outbox={outbox.data !== undefined} />
      <div className="card">
        <label className="search">
          Search staff
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="name or email" />
        </label>
        <ErrorMessage error={users.error} />
        {users.loading && !users.data ? <Loading /> : null}
        <div className="table-wrap">
          <table data-testid="staff">
            <caption className="sr-only">Staff accounts</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Last sign-in</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {(users.data?.items ?? []).map((u) => (
                <StaffRow key={u.id + String(u.active) + u.name + u.role + (u.invite_expires_at ?? "")} user={u} onChange={() => void users.reload()} />
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
