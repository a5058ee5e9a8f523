import type { TimedWord } from "../../voice/protocol";
import { captionParts, wordState } from "../../voice/words";

/** A reply's text with each timed word marked spoken, current or upcoming at `playedMs` of its audio. */
export function Caption({ text, words, playedMs }: { text: string; words: readonly TimedWord[]; playedMs: number }) {
  return (
    <span className="caption" data-testid="caption" data-played-ms={Math.round(playedMs)}>
      {captionParts(text, words).map((part, i) =>
        part.word ? (
          <span key={i} className={`word word-${wordState(part.word, playedMs)}`} data-word-state={wordState(part.word, playedMs)}
            data-start-ms={part.word.start_ms} data-end-ms={part.word.end_ms}>
            {part.text}
          </span>
        ) : (
          part.text
        ),
      )}
    </span>
  );
}
