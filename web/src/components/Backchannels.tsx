/** Backchannels said over a reply: a small note on that message, not turns of their own. */
export function Backchannels({ texts }: { texts?: readonly string[] | undefined }) {
  if (!texts?.length) return null;
  const said = texts.map((t) => (t.trim() ? `“${t.trim()}”` : "a cough")).join(", ");
  return (
    <small className="backchannels" data-testid="backchannels">
      Heard while speaking: {said}
    </small>
  );
}
