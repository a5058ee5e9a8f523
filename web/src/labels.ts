/** Words for the server's enum values. Records over the generated unions: the typecheck fails if
 * the server adds a value, so no raw value ("roleplay · voice") ever reaches a page. */
import type { Channel, Mode, ReportStatus, SessionStatus } from "./api/types";

export const MODE_LABEL: Record<Mode, string> = { training: "Training", roleplay: "Role-play" };
export const CHANNEL_LABEL: Record<Channel, string> = { text: "Text", voice: "Voice", avatar: "Avatar" };
export const SESSION_STATUS_LABEL: Record<SessionStatus, string> = { active: "In progress", ended: "Finished" };
export const REPORT_STATUS_LABEL: Record<ReportStatus, string> = {
  open: "Open",
  resolved: "Resolved",
  dismissed: "Dismissed",
};

/** "Voice role-play", "Text training". */
export function sessionKind(session: { mode: Mode; channel: Channel }): string {
  return `${CHANNEL_LABEL[session.channel]} ${MODE_LABEL[session.mode].toLowerCase()}`;
}
