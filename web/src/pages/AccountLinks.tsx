/**
 * The public pages behind emailed links and the "Forgot password?" form: accept an invite
 * (/invite?token=...), ask for a reset link (/forgot-password) and set a new password from one
 * (/reset-password?token=...). Loaded on demand: the sign-in page's bundle does not grow.
 */
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, redeemLink } from "../api/http";
import { ErrorMessage } from "../components/ui";
import { asApiError } from "../hooks";
import { homeFor } from "../nav";

const MIN_PASSWORD = 8;

function ChoosePassword({ kind }: { kind: "invite" | "reset" }) {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const navigate = useNavigate();
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const invite = kind === "invite";

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (password !== again) {
      setError("The two passwords differ.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const user = await redeemLink(kind, token, password);
      navigate(homeFor(user.role), { replace: true });
    } catch (e) {
      setError(asApiError(e).message);
    } finally {
      setBusy(false);
    }
  }

  const title = invite ? "Welcome to Sparring" : "Choose a new password";
  return (
    <main className="login" id="main">
      <form onSubmit={submit} className="card login-card" aria-labelledby="link-title">
        <h1 id="link-title">{title}</h1>
        {token ? (
          <>
            <p className="muted">
              {invite
                ? "Choose the password you will sign in with."
                : "Setting a new password signs you out on every other device."}
            </p>
            <label>
              New password
              <input
                type="password"
                autoComplete="new-password"
                required
                minLength={MIN_PASSWORD}
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
            <label>
              Repeat the password
              <input
                type="password"
                autoComplete="new-password"
                required
                minLength={MIN_PASSWORD}
                value={again}
                onChange={(e) => setAgain(e.target.value)}
              />
            </label>
            <ErrorMessage error={error} />
            <button type="submit" disabled={busy}>
              {busy ? "Saving…" : invite ? "Set password and sign in" : "Set new password"}
            </button>
          </>
        ) : (
          <ErrorMessage error="This link is incomplete: open the whole link from your email." />
        )}
        <p className="small">
          {invite ? null : <Link to="/forgot-password">Ask for a new link</Link>} <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </main>
  );
}

export function AcceptInvite() {
  return <ChoosePassword kind="invite" />;
}

export function ResetPassword() {
  return <ChoosePassword kind="reset" />;
}

export function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api<{ message: string }>("POST", "/api/v1/auth/password-reset", {
        body: { email: email.trim() },
        auth: false,
      });
      setSent(answer.message);
    } catch (e) {
      setError(asApiError(e).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login" id="main">
      <form onSubmit={submit} className="card login-card" aria-labelledby="forgot-title">
        <h1 id="forgot-title">Forgot your password?</h1>
        {sent ? (
          <p role="status">{sent}</p>
        ) : (
          <>
            <p className="muted">Enter your email and we will send you a link to choose a new password.</p>
            <label>
              Email
              <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </label>
            <ErrorMessage error={error} />
            <button type="submit" disabled={busy}>
              {busy ? "Sending…" : "Email me a link"}
            </button>
          </>
        )}
        <p className="small">
          <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </main>
  );
}
