import { lazy, Suspense, useState } from "react";
import type { Mode, Persona, PersonaList } from "../api/types";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { useResource } from "../hooks";
import { TextChat } from "./practise/TextChat";
import { demeanourOf, isLook, TRAINER_LOOK } from "../avatar/looks";

// Voice pulls in the audio engine and worklets: load it only when someone picks it.
const VoicePanel = lazy(() => import("./practise/VoicePanel"));

type Channel = "voice" | "face" | "text";

/** The face of a face-to-face session: the persona's look and demeanour (Adam's with no persona). */
function faceOf(persona: Persona | undefined) {
  const look = persona?.avatar_look;
  return { look: isLook(look) ? look : TRAINER_LOOK, demeanour: demeanourOf(persona) };
}

export default function Practise() {
  // The list holds active personas only; role-play is with the customers.
  const personas = useResource<PersonaList>("/api/v1/personas", { kind: "customer" });
  const [mode, setMode] = useState<Mode>("training");
  const [personaId, setPersonaId] = useState("");
  const [channel, setChannel] = useState<Channel>("voice");
  const [started, setStarted] = useState<{ mode: Mode; personaId?: string; channel: Channel; key: number } | null>(null);

  const customers = personas.data?.items ?? [];
  const persona = customers.find((p) => p.id === personaId);

  if (started) {
    const props = { mode: started.mode, ...(started.personaId ? { personaId: started.personaId } : {}), onLeave: () => setStarted(null) };
    return (
      <section>
        <PageHeader title={started.mode === "training" ? "Training with Adam" : `Role-play: ${persona?.name ?? "customer"}`} />
        {started.channel === "text" ? (
          <TextChat key={started.key} {...props} />
        ) : (
          <Suspense fallback={<Loading label="Preparing audio…" />}>
            <VoicePanel key={started.key} {...props} {...(started.channel === "face" ? { face: faceOf(started.mode === "roleplay" ? persona : undefined) } : {})} />
          </Suspense>
        )}
      </section>
    );
  }

  return (
    <section>
      <PageHeader title="Practise" />
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
            <input type="radio" name="channel" value="face" checked={channel === "face"} onChange={() => setChannel("face")} />
            <span>Face to face</span>
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
