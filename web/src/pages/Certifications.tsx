import { useState, type DragEvent } from "react";
import { api, send, errorFrom } from "../api/http";
import type { Board, BoardCard, ProgramList, BoardStage } from "../api/types";
import { ErrorMessage, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { score, STAGE_LABEL } from "../practice";

const STAGES: BoardStage[] = ["not_started", "practising", "ready_for_review", "certified"];

/** Opens the certificate PDF (it needs the access token, so it is fetched, then shown from a blob). */
async function printCertificate(card: BoardCard): Promise<void> {
  const response = await send("GET", `/api/v1/certifications/${card.user_id}/${card.program_id}/certificate`);
  if (!response.ok) throw await errorFrom(response);
  const url = URL.createObjectURL(await response.blob());
  window.open(url, "_blank", "noopener");
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export default function Certifications() {
  const programs = useResource<ProgramList>("/api/v1/programs");
  const [programId, setProgramId] = useState("");
  const chosen = programId || programs.data?.items[0]?.id || "";
  const board = useResource<Board>(chosen ? "/api/v1/certifications" : null, { program_id: chosen || undefined });
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState<{ card: BoardCard; to: BoardStage } | null>(null);
  const [note, setNote] = useState("");

  /** The same rules as the API: a card moves only where its `moves` allow; a move back asks for a note first. */
  async function moveTo(card: BoardCard, to: BoardStage, withNote?: string) {
    const move = card.moves.find((m) => m.to === to);
    if (!move) {
      setError(`${card.name} cannot be moved to ${STAGE_LABEL[to]}: that stage follows from their practice.`);
      return;
    }
    if (move.note_required && !withNote) {
      setPending({ card, to });
      setNote("");
      return;
    }
    setError(undefined);
    try {
      await api("POST", `/api/v1/certifications/${card.user_id}/${card.program_id}`, { body: { status: to, note: withNote ?? null } });
      setPending(null);
      await board.reload();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  function drop(event: DragEvent<HTMLElement>, to: BoardStage) {
    event.preventDefault();
    const card = board.data?.items.find((c) => c.user_id === event.dataTransfer.getData("text/plain"));
    if (card && card.stage !== to) void moveTo(card, to);
  }

  return (
    <section>
      <PageHeader title="Certification">
        <label>
          Programme{" "}
          <select value={chosen} onChange={(e) => setProgramId(e.target.value)}>
            {(programs.data?.items ?? []).map((p) => (
              <option key={p.id} value={p.id}>{p.name}</option>
            ))}
          </select>
        </label>
      </PageHeader>
      {programs.data && programs.data.items.length === 0 ? <p className="muted">Create a programme first (Programmes).</p> : null}
      {board.loading && !board.data ? <Loading /> : null}
      <ErrorMessage error={board.error ?? programs.error ?? error} />
      {pending ? (
        <form
          className="card stack"
          aria-labelledby="move-back"
          onSubmit={(e) => {
            e.preventDefault();
            void moveTo(pending.card, pending.to, note.trim());
          }}
        >
          <h2 id="move-back">Move {pending.card.name} back to {STAGE_LABEL[pending.to]}</h2>
          <label>
            Why (the person and the audit log see this)
            <textarea required maxLength={2000} value={note} onChange={(e) => setNote(e.target.value)} />
          </label>
          <p className="row">
            <button type="submit" disabled={!note.trim()}>Move back</button>
            <button type="button" className="secondary" onClick={() => setPending(null)}>Cancel</button>
          </p>
        </form>
      ) : null}
      {board.data ? (
        <BoardColumns cards={board.data.items} onDrop={drop} onMove={(card, to) => void moveTo(card, to)} onError={setError} />
      ) : null}
    </section>
  );
}

function BoardColumns({ cards, onDrop, onMove, onError }: {
  cards: BoardCard[];
  onDrop: (event: DragEvent<HTMLElement>, to: BoardStage) => void;
  onMove: (card: BoardCard, to: BoardStage) => void;
  onError: (message: string) => void;
}) {
  return (
    <div className="board" data-testid="board">
      {STAGES.map((stage) => (
        <section
          key={stage}
          className="board-column"
          aria-label={STAGE_LABEL[stage]}
          data-stage={stage}
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => onDrop(e, stage)}
        >
          <h2>{STAGE_LABEL[stage]}</h2>
          <ul className="plain stack">
            {cards.filter((c) => c.stage === stage).map((card) => (
              <li
                key={card.user_id}
                className="card board-card"
                draggable={card.moves.length > 0}
                onDragStart={(e) => e.dataTransfer.setData("text/plain", card.user_id)}
                data-testid="board-card"
                data-user-id={card.user_id}
                data-stage={card.stage}
              >
                <strong>{card.name}</strong>
                {card.level ? <span className={`badge level-${card.level}`}>{card.level}</span> : null}
                <ul className="plain muted">
                  {card.scenarios.map((s) => (
                    <li key={s.scenario_id}>{s.passed ? "✓" : "○"} {s.title}: best {score(s.best_score)}</li>
                  ))}
                </ul>
                {card.note ? <p className="muted">Note: {card.note}</p> : null}
                <p className="row">
                  {card.moves.map((m) => (
                    <button key={m.to} type="button" className={m.to === "certified" ? "" : "secondary"} onClick={() => onMove(card, m.to)}>
                      {m.to === "certified" ? "Certify" : `Back to ${STAGE_LABEL[m.to].toLowerCase()}`}
                    </button>
                  ))}
                  {card.stage === "certified" ? (
                    <button type="button" className="secondary" onClick={() => void printCertificate(card).catch((e: unknown) => onError(asApiError(e).message))}>
                      Print certificate
                    </button>
                  ) : null}
                </p>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
