import { lazy, Suspense, useState } from "react";
import { useSearchParams } from "react-router";
import type { Mode, PersonaList } from "../api/types";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { useResource } from "../hooks";
import { MyAssignments } from "./practise/MyAssignments";
import { TextChat } from "./practise/TextChat";

// Voice pulls in the audio engine and worklets: load it only when someone picks it.
const VoicePanel = lazy(() => import("./practise/VoicePanel"));

type Channel = "voice" | "text";

export default function Practise() {
  // The list holds active personas only; role-play is with the customers.
  const personas = useResource<PersonaList>("/api/v1/personas", { kind: "customer" });
  const [mode, setMode] = useState<Mode>("training");
  const [personaId, setPersonaId] = useState("");
  const [channel, setChannel] = useState<Channel>("voice");
  const [started, setStarted] = useState<{
    mode: Mode;
    personaId?: string;
    channel: Channel;
    key: number;
    /** Started from an assignment: its scenario, and the assignment the session counts towards. */
    assignment?: { assignmentId: string; scenarioId: string; title: string };
  } | null>(null);
  // A reminder email's link names the assignment: it is marked among "My assignments".
  const [params] = useSearchParams();

  const customers = personas.data?.items ?? [];
  const persona = customers.find((p) => p.id === personaId);

  if (started) {
    const props = {
      mode: started.mode,
      ...(started.personaId ? { personaId: started.personaId } : {}),
      ...(started.assignment ? { scenarioId: started.assignment.scenarioId, assignmentId: started.assignment.assignmentId } : {}),
      onLeave: () => setStarted(null),
    };
    const title = started.assignment
      ? `Assignment: ${started.assignment.title}`
      : started.mode === "training" ? "Training with Adam" : `Role-play: ${persona?.name ?? "customer"}`;
    return (
      <section>
        <PageHeader title={title} />
        {started.channel === "text" ? (
          <TextChat key={started.key} {...props} />
        ) : (
          <Suspense fallback={<Loading label="Preparing audio…" />}>
            <VoicePanel key={started.key} {...props} />
          </Suspense>
        )}
      </section>
    );
  }

  return (
    <section>
      <PageHeader title="Practise" />
      <MyAssignments
        highlight={params.get("assignment")}
        onStart={({ channel: how, ...assignment }) => setStarted({ mode: "roleplay", channel: how, key: Date.now(), assignment })}
      />
      <h2>Free practice</h2>
      <form
        className="card practise-setup"
        onSubmit={(e) => {
          e.preventDefault();
          setStarted({ mode, ...(mode === "roleplay" && personaId ? { personaId } : {}), channel, key: Date.now() });
        }}
      >
        <fieldset>
          <legend>Who do you want to talk to?</legend>
          <label className="choice">
            <input type="radio" name="mode" value="training" checked={mode === "training"} onChange={() => setMode("training")} />
            <span>
              <strong>Training with Adam</strong>
              <span className="muted">Ask your F&amp;I and sales trainer how to handle a situation.</span>
            </span>
          </label>
          <label className="choice">
            <input type="radio" name="mode" value="roleplay" checked={mode === "roleplay"} onChange={() => setMode("roleplay")} />
            <span>
              <strong>Role-play a customer</strong>
              <span className="muted">Practise on a realistic customer with real objections.</span>
            </span>
          </label>
        </fieldset>
        {mode === "roleplay" ? (
          <div>
            {personas.loading ? <Loading label="Loading customers…" /> : null}
            <ErrorMessage error={personas.error} title="Customers could not be loaded" />
            {/* A separate label: a wrapping one would fold the selected option's text into the name. */}
            <label htmlFor="practise-customer">Customer</label>
            <select id="practise-customer" required value={personaId} onChange={(e) => setPersonaId(e.target.value)}>
                <option value="">Choose a customer…</option>
                {customers.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name} ({p.difficulty})
                  </option>
                ))}
            </select>
            {persona?.summary ? <p className="muted">{persona.summary}</p> : null}
          </div>
        ) : null}
        <fieldset>
          <legend>How?</legend>
          <label className="choice inline">
            <input type="radio" name="channel" value="voice" checked={channel === "voice"} onChange={() => setChannel("voice")} />
            <span>Talk (microphone)</span>
          </label>
          <label className="choice inline">
            <input type="radio" name="channel" value="text" checked={channel === "text"} onChange={() => setChannel("text")} />
            <span>Type</span>
          </label>
        </fieldset>
        <button type="submit">Start session</button>
      </form>
    </section>
  );
}
