/** Words and small helpers the practice-management pages share (statuses, stages, scores). */
import type { ProgressStatus, BoardStage } from "./api/types";

export const STATUS_LABEL: Record<ProgressStatus, string> = {
  not_started: "Not started",
  in_progress: "In progress",
  passed: "Passed",
  failed: "Not passed yet",
  overdue: "Overdue",
};

/** Badge colours reuse the app's: passed is "ready", overdue and failed "failed", the rest "open". */
export const STATUS_BADGE: Record<ProgressStatus, string> = {
  not_started: "queued",
  in_progress: "open",
  passed: "ready",
  failed: "failed",
  overdue: "failed",
};

export const STAGE_LABEL: Record<BoardStage, string> = {
  not_started: "Not started",
  practising: "Practising",
  ready_for_review: "Ready for review",
  certified: "Certified",
};

export function score(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${Math.round(value)}`;
}

export function dueLabel(dueAt: string, now: Date = new Date()): string {
  const due = new Date(dueAt);
  const days = Math.round((due.getTime() - now.getTime()) / 86_400_000);
  const when = due.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  if (due < now) return `was due ${when}`;
  return days <= 0 ? `due today, ${when}` : days === 1 ? `due tomorrow, ${when}` : `due ${when}`;
}
