import { describe, expect, it } from "vitest";
import { ApiError } from "./api/http";
import type { UploadResult } from "./api/types";
import { outcomesOf } from "./uploads";
import { sessionKind, SESSION_STATUS_LABEL } from "./labels";

describe("upload outcomes", () => {
  it("gives each file of a partly refused upload its own outcome and reason", () => {
    const answer: UploadResult = {
      documents: [{ id: "d1", filename: "guide.pdf", status: "queued" }],
      results: [
        { filename: "guide.pdf", status: "queued", document: { id: "d1", filename: "guide.pdf", status: "queued" }, error: null },
        {
          filename: "photo.png",
          status: "refused",
          document: null,
          error: { code: "unsupported_media_type", message: "photo.png is not a PDF, DOCX, text or Markdown file.", details: null },
        },
      ],
    };
    expect(outcomesOf(["guide.pdf", "photo.png"], answer)).toEqual([
      { filename: "guide.pdf", ok: true, message: "Uploaded: queued for processing" },
      { filename: "photo.png", ok: false, message: "Not uploaded: photo.png is not a PDF, DOCX, text or Markdown file." },
    ]);
  });

  it("puts a single file's error on that file", () => {
    const error = new ApiError(409, "duplicate_document", "a.txt has the same content as a document you already have.");
    expect(outcomesOf(["a.txt"], error)).toEqual([
      { filename: "a.txt", ok: false, message: "Not uploaded: a.txt has the same content as a document you already have. (this file is already in your library)" },
    ]);
  });
});

describe("session labels", () => {
  it("names modes and statuses in words", () => {
    expect(sessionKind({ mode: "roleplay", channel: "voice" })).toBe("Voice role-play");
    expect(sessionKind({ mode: "training", channel: "text" })).toBe("Text training");
    expect(SESSION_STATUS_LABEL.active).toBe("In progress");
  });
});
