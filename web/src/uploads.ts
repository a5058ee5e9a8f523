/** What became of each file of an upload, for the Documents page: the server answers per file
 * (`results`, 202 or 207) for several files, and with its error status for a single one. */
import { ApiError } from "./api/http";
import type { UploadResult } from "./api/types";

export interface FileOutcome {
  filename: string;
  ok: boolean;
  message: string;
}

export function outcomesOf(filenames: string[], answer: UploadResult | ApiError): FileOutcome[] {
  if (answer instanceof ApiError) {
    // One file refused, or the request itself (too big, not signed in): every file shares the reason.
    const hint = answer.code === "duplicate_document" ? " (this file is already in your library)" : "";
    return filenames.map((filename) => ({ filename, ok: false, message: `Not uploaded: ${answer.message}${hint}` }));
  }
  return answer.results.map((r) =>
    r.status === "queued"
      ? { filename: r.filename, ok: true, message: "Uploaded: queued for processing" }
      : {
          filename: r.filename,
          ok: false,
          message: `Not uploaded: ${r.error?.message ?? "refused."}${r.error?.code === "duplicate_document" ? " (already in your library)" : ""}`,
        },
  );
}
