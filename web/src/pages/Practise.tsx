import { lazy, Suspense, useState } from "react";
import { useSearchParams } from "react-router";
import type { Mode, Persona, PersonaList, Scenario, ScenarioList } from "../api/types";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { useResource } from "../hooks";
import { OBJECTIONS } from "../objections";
import { DIFFICULTY_LABEL } from "../scenarios";
import { MyAssignments } from "./practise/MyAssignments";
import { TextChat } from "./practise/TextChat";
import { demeanourOf, isLook, TRAINER_LOOK } from "../avatar/looks";

// Voice pulls in the audio engine and worklets: load it only when someone picks it.
const VoicePanel = lazy(() => import("./practise/VoicePanel"));

type Channel = "voice" | "face" | "text";
/** Who the trainee talks to: Adam, a customer persona, or a scenario (its customer, rubric and pass mark). */
type Choice = Mode | "scenario";

function scenarioDetails(s: Scenario): string {
  const parts = [DIFFICULTY_LABEL[s.difficulty], ...(s.objections ?? []).map((o) => OBJECTIONS[o])];
  if (s.time_limit_s) parts.push(`${Math.round(s.time_limit_s / 60)} min`);
  return parts.join(" · ");
}

function ScenarioChoices({ scenarios, value, onChange }: { scenarios: Scenario[]; value: string; onChange: (id: string) => void }) {
  if (scenarios.length === 0) return <p className="muted">No scenarios yet: ask your manager to set one up.</p>;
  return (
    <ul className="scenario-choices" aria-label="Scenarios" data-testid="scenario-choices">
      {scenarios.map((s) => (
        <li key={s.id} className="scenario-choice" data-scenario-id={s.id}>
          <label className="choice">
            <input
              type="radio"
              name="scenario"
              value={s.id}
              required
              checked={value === s.id}
              onChange={() => onChange(s.id)}
              aria-describedby={`scenario-${s.id}-details`}
            />
            <strong>{s.title}</strong>
          </label>
          <div id={`scenario-${s.id}-details`}>
            <p className="muted small">{scenarioDetails(s)}</p>
            {s.situation ? <p className="small">{s.situation}</p> : null}
            {s.goal ? <p className="small"><strong>Your goal:</strong> {s.goal}</p> : null}
          </div>
        </li>
      ))}
    </ul>
  );
}

/** The face of a face-to-face session: the persona's look and demeanour (Adam's with no persona). */
function faceOf(persona: Persona | undefined) {
  const look = persona?.avatar_look;
  return { look: isLook(look) ? look : TRAINER_LOOK, demeanour: demeanourOf(persona) };
}

export default function Practise() {
  // The list holds active personas only; role-play is with the customers.
  const personas = useResource<PersonaList>("/api/v1/personas", { kind: "customer" });
  // Salespeople see their dealership's active scenarios.
  const scenarioList = useResource<ScenarioList>("/api/v1/scenarios");
  const [mode, setMode] = useState<Choice>("training");
  const [personaId, setPersonaId] = useState("");
  const [scenarioId, setScenarioId] = useState("");
  const [channel, setChannel] = useState<Channel>("voice");
  const [started, setStarted] = useState<{
    mode: Mode;
    personaId?: string;
    scenario?: Scenario;
    channel: Channel;
    key: number;
    /** Started from an assignment: its scenario, and the assignment the session counts towards. */
    assignment?: { assignmentId: string; scenarioId: string; title: string };
  } | null>(null);
  // A reminder email's link names the assignment: it is marked among "My assignments".
  const [params] = useSearchParams();

  const customers = personas.data?.items ?? [];
  const persona = customers.find((p) => p.id === personaId);
  const scenarios = scenarioList.data?.items ?? [];

  if (started) {
    const props = {
      mode: started.mode,
      ...(started.personaId ? { personaId: started.personaId } : {}),
      ...(started.scenario
        ? {
            scenarioId: started.scenario.id,
            assistantName: customers.find((p) => p.id === started.scenario?.persona_id)?.name ?? "Customer",
            timeLimitS: started.scenario.time_limit_s,
          }
        : {}),
      ...(started.assignment ? { scenarioId: started.assignment.scenarioId, assignmentId: started.assignment.assignmentId } : {}),
      onLeave: () => setStarted(null),
    };
    const title = started.assignment
      ? `Assignment: ${started.assignment.title}`
      : started.scenario
      ? `Scenario: ${started.scenario.title}`
      : started.mode === "training" ? "Training with Adam" : `Role-play: ${persona?.name ?? "customer"}`;
    return (
      <section>
        <PageHeader title={title} />
        {started.scenario?.goal ? <p className="muted">Your goal: {started.scenario.goal}</p> : null}
        {started.channel === "text" ? (
          <TextChat key={started.key} {...props} />
        ) : (
          <Suspense fallback={<Loading label="Preparing audio…" />}>
            <VoicePanel key={started.key} {...props} {...(started.channel === "face" ? { face: faceOf(started.scenario ? customers.find((p) => p.id === started.scenario?.persona_id) : started.mode === "roleplay" ? persona : undefined) } : {})} />
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
        onStart={({ channel: how, ...assignment }) => {
          // The assignment's scenario (its customer, goal and time limit), when the list has it.
          const scenario = scenarios.find((sc) => sc.id === assignment.scenarioId);
          setStarted({ mode: scenario?.mode ?? "roleplay", channel: how, key: Date.now(), assignment, ...(scenario ? { scenario } : {}) });
        }}
      />
      <h2>Free practice</h2>
      <form
        className="card practise-setup"
        onSubmit={(e) => {
          e.preventDefault();
          const scenario = scenarios.find((sc) => sc.id === scenarioId);
          if (mode === "scenario") {
            if (scenario) setStarted({ mode: scenario.mode, scenario, channel, key: Date.now() });
            return;
          }
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
          <label className="choice">
            <input type="radio" name="mode" value="scenario" checked={mode === "scenario"} onChange={() => setMode("scenario")} />
            <span>
              <strong>Practise a scenario</strong>
              <span className="muted">A situation your manager set up, scored against its rubric with a pass mark.</span>
            </span>
          </label>
        </fieldset>
        {mode === "scenario" ? (
          <div>
            {scenarioList.loading ? <Loading label="Loading scenarios…" /> : null}
            <ErrorMessage error={scenarioList.error} title="Scenarios could not be loaded" />
            {scenarioList.data ? <ScenarioChoices scenarios={scenarios} value={scenarioId} onChange={setScenarioId} /> : null}
          </div>
        ) : null}
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
