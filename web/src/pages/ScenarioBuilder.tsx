import { useEffect, useReducer, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api } from "../api/http";
import type {
  BuilderAnswer, BuilderDraft, BuilderReply, BuilderSession, BuilderStage, BuilderStart, Difficulty, PersonaIn,
  RubricList, ScenarioFieldsValue, ScenarioIn,
} from "../api/types";
import { useUser } from "../auth/AuthContext";
import { DealershipSelect } from "../components/DealershipSelect";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { builderReducer, collectedRows, draftBodies, INITIAL, resumeKey, STAGES, stageIndex } from "../builder";
import { DIFFICULTY_LABEL, withKeys } from "../scenarios";
import { ScenarioFields, TextField } from "./scenarios/ScenarioFields";

const BUILDER = "/api/v1/builder/sessions";

/** The draft to review: the new customer and the scenario, both editable, saved in one request. */
function ReviewDraft({ draft, onSaved, onBack }: { draft: BuilderDraft; onSaved: (title: string) => void; onBack: () => void }) {
  const superAdmin = useUser().role === "super_admin";
  const rubrics = useResource<RubricList>("/api/v1/rubrics");
  const [dealershipId, setDealershipId] = useState("");
  const initial = draftBodies(draft);
  const [persona, setPersona] = useState<PersonaIn>(initial.persona);
  const [scenario, setScenario] = useState<ScenarioFieldsValue>(initial.scenario);
  const [error, setError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const setP = <K extends keyof PersonaIn>(key: K) => (v: PersonaIn[K]) => setPersona((p) => ({ ...p, [key]: v }));

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    setSaving(true);
    const dealership = superAdmin ? dealershipId : null;
    try {
      // One request: the new customer and the scenario are saved together, or neither is.
      const { dealership_id: _unused, ...customer } = persona;
      const body: ScenarioIn = {
        ...scenario, persona_id: null, persona: { ...customer, objections: scenario.objections },
        hidden_facts: withKeys(scenario.hidden_facts), dealership_id: dealership,
      };
      await api("POST", "/api/v1/scenarios", { body });
      onSaved(scenario.title);
    } catch (e) {
      setError(asApiError(e).message);
    } finally {
      setSaving(false);
    }
  }

  return (
    <form className="card form-grid" onSubmit={save} aria-label="Review the draft">
      <h2>Review the draft</h2>
      <p className="wide muted">Nothing is saved yet. Change anything, then save the customer and the scenario.</p>
      {superAdmin ? (
        <DealershipSelect value={dealershipId} onChange={setDealershipId} />
      ) : null}
      <h3 className="wide">The customer</h3>
      <TextField label="Customer name" value={persona.name} onChange={setP("name")} required />
      <label>
        Customer difficulty
        <select value={persona.difficulty} onChange={(e) => setP("difficulty")(e.target.value as Difficulty)}>
          {(Object.entries(DIFFICULTY_LABEL) as [Difficulty, string][]).map(([key, label]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <TextField label="Vehicle" value={persona.vehicle} onChange={setP("vehicle")} />
      <TextField label="Budget" value={persona.budget} onChange={setP("budget")} />
      <TextField label="Who they are" value={persona.summary} onChange={setP("summary")} long />
      <TextField label="Personality and tone" value={persona.personality} onChange={setP("personality")} long />
      <TextField label="Opening line" value={persona.opening_line} onChange={setP("opening_line")} long />
      <h3 className="wide">The scenario</h3>
      <ScenarioFields value={scenario} onChange={setScenario} personas={null} rubrics={rubrics.data?.items ?? []} />
      <ErrorMessage error={error} />
      <div className="row wide">
        <button type="submit" disabled={saving}>
          {saving ? "Saving…" : "Save scenario"}
        </button>
        <button type="button" className="secondary" onClick={onBack}>
          Back to the conversation
        </button>
      </div>
    </form>
  );
}

function Collected({ stage, collected, done }: { stage: BuilderStage; collected: Record<string, unknown>; done: boolean }) {
  const rubrics = useResource<RubricList>("/api/v1/rubrics");
  const at = done ? STAGES.length - 1 : stageIndex(stage);
  const rows = collectedRows(collected, Object.fromEntries((rubrics.data?.items ?? []).map((r) => [r.id, r.name])));
  return (
    <aside className="card builder-collected" aria-labelledby="collected-title">
      <h2 id="collected-title">So far</h2>
      <ol className="stages" aria-label="Stages">
        {STAGES.map((s, i) => (
          <li key={s.key} className={i < at ? "stage-done" : i === at ? "stage-current" : ""} aria-current={i === at ? "step" : undefined}>
            {s.label}
          </li>
        ))}
      </ol>
      {rows.length ? (
        <dl className="collected" data-testid="collected">
          {rows.map((r) => (
            <div key={r.label} data-field={r.key}>
              <dt>{r.label}</dt>
              <dd>{r.value}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="muted">Nothing yet.</p>
      )}
    </aside>
  );
}

export default function ScenarioBuilder() {
  const user = useUser();
  const superAdmin = user.role === "super_admin";
  const navigate = useNavigate();
  const [state, dispatch] = useReducer(builderReducer, INITIAL);
  const [answer, setAnswer] = useState("");
  const [transcript, setTranscript] = useState("");
  const [dealershipId, setDealershipId] = useState("");
  const [notice, setNotice] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [busy, setBusy] = useState(false);
  const [reviewing, setReviewing] = useState(false);
  const key = resumeKey(user.id);
  const log = useRef<HTMLOListElement>(null);

  // A builder session left open is resumed (the server keeps it); a gone one starts afresh.
  useEffect(() => {
    const id = localStorage.getItem(key);
    if (!id) return setLoading(false);
    let cancelled = false;
    api<BuilderSession>("GET", `${BUILDER}/${id}`)
      .then((session) => {
        if (cancelled) return;
        // An expired one (no answer within its time to live) cannot go on; a completed one can
        // still be reviewed and saved.
        if (session.status === "active" || session.status === "completed") return dispatch({ type: "started", session });
        localStorage.removeItem(key);
        if (session.status === "expired") setNotice("Your last builder conversation expired. Start a new one.");
      })
      .catch(() => localStorage.removeItem(key))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [key]);

  useEffect(() => {
    if (state.unsent !== null) setAnswer(state.unsent);
  }, [state.unsent]);

  useEffect(() => {
    log.current?.lastElementChild?.scrollIntoView({ block: "nearest" });
  }, [state.log.length, state.pending]);

  async function start(event?: FormEvent, fromTranscript = false) {
    event?.preventDefault();
    setBusy(true);
    try {
      const body: BuilderStart = {
        kind: "scenario",
        source_transcript: fromTranscript && transcript.trim() ? transcript.trim() : null,
        dealership_id: superAdmin ? dealershipId || null : null,
      };
      const session = await api<BuilderSession>("POST", BUILDER, { body });
      localStorage.setItem(key, session.id);
      dispatch({ type: "started", session });
    } catch (e) {
      dispatch({ type: "failed", message: asApiError(e).message });
    } finally {
      setBusy(false);
    }
  }

  async function send(event: FormEvent) {
    event.preventDefault();
    const text = answer.trim();
    if (!text || state.pending !== null || !state.id) return;
    dispatch({ type: "sent", text });
    setAnswer("");
    try {
      const body: BuilderAnswer = { text };
      const reply = await api<BuilderReply>("POST", `${BUILDER}/${state.id}/messages`, { body });
      dispatch({ type: "answered", reply });
    } catch (e) {
      dispatch({ type: "failed", message: asApiError(e).message });
    }
  }

  async function complete() {
    if (!state.id) return;
    setBusy(true);
    try {
      dispatch({ type: "drafted", draft: await api<BuilderDraft>("POST", `${BUILDER}/${state.id}/complete`) });
      setReviewing(true);
    } catch (e) {
      dispatch({ type: "failed", message: asApiError(e).message });
    } finally {
      setBusy(false);
    }
  }

  async function startOver() {
    const id = state.id;
    localStorage.removeItem(key);
    dispatch({ type: "reset" });
    setReviewing(false);
    if (id) await api("DELETE", `${BUILDER}/${id}`).catch(() => undefined); // gone already: nothing to abandon
  }

  if (loading) return <Loading />;

  if (reviewing && state.draft) {
    return (
      <section>
        <PageHeader title="Build a scenario" />
        <ReviewDraft
          draft={state.draft}
          onBack={() => setReviewing(false)}
          onSaved={(title) => {
            localStorage.removeItem(key);
            navigate("/scenarios", { state: { saved: title } });
          }}
        />
      </section>
    );
  }

  if (!state.id) {
    return (
      <section>
        <PageHeader title="Build a scenario" />
        {notice ? <p className="card" role="status">{notice}</p> : null}
        {superAdmin ? (
          <DealershipSelect className="card" value={dealershipId} onChange={setDealershipId} />
        ) : null}
        <div className="card stack">
          <p>The assistant asks one question at a time (the customer, what they are buying, their objections, how tough, what they know, what the trainee must achieve) and ends with a draft for you to review.</p>
          <button type="button" onClick={() => start()} disabled={busy || (superAdmin && !dealershipId)}>
            Start the conversation
          </button>
        </div>
        <form className="card stack" onSubmit={(e) => start(e, true)} aria-label="From a transcript">
          <h2>Or start from a real conversation</h2>
          <label>
            Paste a transcript of a customer conversation
            <textarea rows={8} required maxLength={50000} value={transcript} onChange={(e) => setTranscript(e.target.value)} />
          </label>
          <button type="submit" disabled={busy || !transcript.trim() || (superAdmin && !dealershipId)}>
            Draft from the transcript
          </button>
        </form>
        <ErrorMessage error={state.error ?? undefined} />
      </section>
    );
  }

  return (
    <section>
      <PageHeader title="Build a scenario">
        <button type="button" className="secondary" onClick={startOver}>
          Start over
        </button>
      </PageHeader>
      <div className="builder" data-stage={state.stage} data-done={state.done ? "true" : "false"}>
        <div className="chat card">
          <ol className="transcript" ref={log} aria-live="polite" aria-label="Builder conversation" data-testid="builder-log">
            {state.log.map((line, i) => (
              <li key={i} className={`turn turn-${line.role === "admin" ? "user" : "assistant"}`} data-role={line.role}>
                <span className="speaker">{line.role === "admin" ? "You" : "Builder"}</span>
                <p>{line.text}</p>
              </li>
            ))}
            {state.pending !== null ? (
              <li className="turn turn-user" data-role="admin" data-pending="true">
                <span className="speaker">You</span>
                <p>{state.pending}</p>
              </li>
            ) : null}
          </ol>
          <ErrorMessage error={state.error ?? undefined} />
          {state.done ? (
            <div className="row">
              <p className="grow">That is everything the builder needs. Review the draft, or correct something below first.</p>
              <button type="button" onClick={complete} disabled={busy || state.pending !== null}>
                Review the draft
              </button>
            </div>
          ) : null}
          <form className="composer" onSubmit={send}>
            <label className="grow">
              <span className="sr-only">Your answer</span>
              <textarea
                rows={2}
                maxLength={5000}
                placeholder={state.done ? "A correction, e.g. “actually make her a first-time buyer”" : "Your answer"}
                value={answer}
                onChange={(e) => setAnswer(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey) {
                    e.preventDefault();
                    e.currentTarget.form?.requestSubmit();
                  }
                }}
              />
            </label>
            <button type="submit" disabled={state.pending !== null || !answer.trim()}>
              {state.pending !== null ? "Thinking…" : "Answer"}
            </button>
          </form>
        </div>
        <Collected stage={state.stage} collected={state.collected} done={state.done} />
      </div>
    </section>
  );
}
