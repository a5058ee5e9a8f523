import { Avatar } from "./Avatar";
import type { Demeanour, LookId } from "./looks";

/** A still of a look, as the persona will appear face to face (the persona page's picker). */
export default function LookPreview({ look, demeanour }: { look: LookId; demeanour: Demeanour }) {
  return (
    <div className="look-preview">
      <Avatar look={look} demeanour={demeanour} still={{ state: "idle", viseme: "sil", replyMs: undefined }} label={`Preview: ${look}`} />
    </div>
  );
}
