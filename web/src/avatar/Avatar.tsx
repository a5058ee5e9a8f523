/**
 * The built-in avatar: an SVG face drawn by our own code (no asset, no network). React draws it
 * once per look and demeanour; one requestAnimationFrame loop then moves it by setting a handful
 * of attributes (mouth paths, eyelids, gaze, head pose), so a frame costs well under a
 * millisecond of script. The element carries `data-state`, `data-viseme` and `data-look`.
 */

import { memo, useEffect, useId, useRef } from "react";
import type { AvatarFrame, AvatarState } from "./driver";
import { LOOK_LABELS, type Demeanour, type LookId } from "./looks";
import { blend, mouthPaths, SHAPES, type MouthShape } from "./mouth";

type Hair = "long" | "bob" | "bun" | "curly" | "side-part" | "balding" | "buzz" | "ponytail";
type Outfit = "tshirt" | "blazer" | "cardigan" | "hoodie" | "suit" | "tweed" | "workwear" | "sporty";

interface Style {
  skin: string;
  shade: string;
  hair: string;
  hairStyle: Hair;
  lips: string;
  iris: string;
  outfit: Outfit;
  main: string;
  second: string;
  senior?: boolean;
  glasses?: boolean;
  beard?: "full" | "moustache";
  earrings?: string;
  /** Face width: men's jaws are drawn a little wider. */
  jaw: number;
}

const STYLES: Record<LookId, Style> = {
  "woman-young-casual": { skin: "#f1c7a5", shade: "#dfa989", hair: "#4a2c1d", hairStyle: "long", lips: "#c9605f", iris: "#5b3a22",
    outfit: "tshirt", main: "#e07a5f", second: "#3d5a80", earrings: "#e9c46a", jaw: 0.95 },
  "woman-middle-business": { skin: "#d6a07a", shade: "#bf8763", hair: "#1f1a17", hairStyle: "bob", lips: "#a8444f", iris: "#3b2a1e",
    outfit: "blazer", main: "#1d3557", second: "#f1faee", earrings: "#f8f9fa", jaw: 0.95 },
  "woman-senior-classic": { skin: "#f3d3bf", shade: "#ddb49d", hair: "#d9d9d9", hairStyle: "bun", lips: "#b5656b", iris: "#4f6d7a",
    outfit: "cardigan", main: "#7b2d3b", second: "#f4ecd8", senior: true, glasses: true, earrings: "#f8f9fa", jaw: 0.95 },
  "man-young-casual": { skin: "#a86b47", shade: "#8d5536", hair: "#151010", hairStyle: "curly", lips: "#7e4538", iris: "#2b1b12",
    outfit: "hoodie", main: "#f4a261", second: "#264653", jaw: 1.02 },
  "man-middle-business": { skin: "#eac0a0", shade: "#d3a282", hair: "#5a3b24", hairStyle: "side-part", lips: "#b26b5f", iris: "#4a6b8a",
    outfit: "suit", main: "#343a40", second: "#b5172f", jaw: 1.05 },
  "man-senior-classic": { skin: "#efc9ad", shade: "#d6a98b", hair: "#c8c8c8", hairStyle: "balding", lips: "#b07166", iris: "#5d7b6f",
    outfit: "tweed", main: "#7f5f3f", second: "#a9c6e8", senior: true, glasses: true, beard: "moustache", jaw: 1.05 },
  "man-middle-workwear": { skin: "#c98e64", shade: "#ad744d", hair: "#3b2a20", hairStyle: "buzz", lips: "#9a5a48", iris: "#3d2b1f",
    outfit: "workwear", main: "#2b3a55", second: "#d9f03a", beard: "full", jaw: 1.08 },
  "woman-young-sporty": { skin: "#7a4a2e", shade: "#633a22", hair: "#0f0b0a", hairStyle: "ponytail", lips: "#6e3b32", iris: "#24160e",
    outfit: "sporty", main: "#2a9d8f", second: "#ffffff", earrings: "#e9c46a", jaw: 0.95 },
};

interface Bearing {
  smile: number;
  /** A one-sided mouth (doubt). */
  skew: number;
  /** Brow lift (left, right) and how far each inner end drops (a frown). */
  brows: [number, number, number, number];
  /** Upper lids resting lower: 0 wide awake, 0.4 narrowed. */
  lids: number;
  tilt: number;
}

const BEARINGS: Record<Demeanour, Bearing> = {
  friendly: { smile: 0.8, skew: 0, brows: [3, 3, 0, 0], lids: 0.05, tilt: 2 },
  neutral: { smile: 0.2, skew: 0, brows: [0, 0, 0, 0], lids: 0.12, tilt: 0 },
  sceptical: { smile: -0.1, skew: 0.7, brows: [8, -3, -2, 4], lids: 0.3, tilt: -4 },
  impatient: { smile: -0.7, skew: 0, brows: [-3, -3, 5, 5], lids: 0.25, tilt: 0 },
};

export interface AvatarProps {
  look: LookId;
  demeanour: Demeanour;
  /** The face's state and mouth at `now` (performance.now()); a still face when left out. */
  frame?: (now: number) => AvatarFrame;
  /** For screenshots: a fixed state and shape. */
  still?: AvatarFrame;
  label?: string;
}

const CX = 180;
const MOUTH_Y = 254;
const EYE_Y = 178;
const EYE_RY = 9;

function Hair({ s, back }: { s: Style; back: boolean }) {
  const c = s.hair;
  switch (s.hairStyle) {
    case "long":
      return back ? (
        <path fill={c} d="M92 190C84 110 130 76 180 76S276 110 268 190C272 260 282 320 262 346C236 356 124 356 98 346C78 320 88 260 92 190Z" />
      ) : (
        <path fill={c} d="M100 196C94 118 136 82 182 82C228 82 268 116 262 196C252 152 232 128 206 118C176 138 138 140 112 150C104 162 102 178 100 196Z" />
      );
    case "bob":
      return back ? (
        <path fill={c} d="M94 196C88 114 130 78 180 78S272 114 266 196C268 236 270 262 258 276L102 276C90 262 92 236 94 196Z" />
      ) : (
        <path fill={c} d="M98 214C92 120 136 84 180 84C226 84 268 120 262 214C256 168 244 138 220 122C186 130 152 122 132 124C110 142 100 176 98 214Z" />
      );
    case "bun":
      return back ? (
        <circle fill={c} cx={CX} cy={74} r={30} />
      ) : (
        <path fill={c} d="M100 186C96 122 136 90 180 90S264 122 260 186C252 150 236 130 214 122C196 118 164 118 146 122C122 130 106 152 100 186Z" />
      );
    case "curly":
      return back ? null : (
        <g fill={c}>
          <path d="M100 176C98 116 134 86 180 86S262 116 260 176C250 144 236 126 180 124C124 126 110 144 100 176Z" />
          {[110, 128, 146, 164, 182, 200, 218, 236, 252].map((x, i) => (
            <circle key={x} cx={x} cy={i % 2 ? 100 : 110} r={16} />
          ))}
        </g>
      );
    case "side-part":
      return back ? null : (
        <path fill={c} d="M100 180C94 118 134 84 182 84C230 84 266 118 260 180C256 150 246 130 226 120C196 112 150 108 140 132C126 124 108 150 100 180Z" />
      );
    case "balding":
      return back ? null : (
        <g fill={c}>
          <path d="M100 202C96 168 104 148 116 136C114 160 114 180 112 206Z" />
          <path d="M260 202C264 168 256 148 244 136C246 160 246 180 248 206Z" />
        </g>
      );
    case "buzz":
      return back ? null : (
        <path fill={c} opacity={0.85} d="M102 170C100 118 136 92 180 92S260 118 258 170C250 146 230 130 180 128C130 130 110 146 102 170Z" />
      );
    case "ponytail":
      return back ? (
        <path fill={c} d="M244 120C292 116 306 170 292 232C286 260 270 276 262 300C270 250 268 200 244 150Z" />
      ) : (
        <g>
          <path fill={c} d="M100 184C96 120 136 88 180 88S264 120 260 184C252 150 236 132 180 128C124 132 108 150 100 184Z" />
          <path fill="none" stroke={s.main} strokeWidth={7} strokeLinecap="round" d="M104 150C128 116 232 116 256 150" />
        </g>
      );
  }
}

function Outfit({ s }: { s: Style }) {
  const body = "M40 420C44 360 90 336 140 326L220 326C270 336 316 360 320 420Z";
  switch (s.outfit) {
    case "tshirt":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill={s.skin} d="M148 326C156 348 204 348 212 326Z" />
          <path fill="none" stroke={s.earrings} strokeWidth={1.5} d="M156 334C168 352 192 352 204 334" />
        </g>
      );
    case "blazer":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill={s.second} d="M146 326L180 390L214 326Z" />
          <path fill="#152a45" d="M146 326L166 380L150 420L128 420L136 340Z M214 326L194 380L210 420L232 420L224 340Z" />
        </g>
      );
    case "cardigan":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill={s.second} d="M148 326L180 400L212 326Z" />
          {[346, 372, 398].map((y) => <circle key={y} cx={CX + (y - 326) * 0.22} cy={y} r={3} fill="#e9d8a6" />)}
          <path fill="none" stroke="#f8f9fa" strokeWidth={4} strokeDasharray="1 6" strokeLinecap="round" d="M152 330C164 350 196 350 208 330" />
        </g>
      );
    case "hoodie":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill="#e08e4e" d="M120 330C132 312 228 312 240 330C224 352 136 352 120 330Z" />
          <path fill={s.skin} d="M150 326C160 340 200 340 210 326Z" />
          <path stroke={s.second} strokeWidth={3} d="M166 344L164 384M194 344L196 384" />
        </g>
      );
    case "suit":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill="#f8f9fa" d="M148 324L180 392L212 324Z" />
          <path fill={s.second} d="M174 334L186 334L192 388L180 404L168 388Z" />
          <path fill="#23272b" d="M148 324L168 384L150 420L128 420L134 340Z M212 324L192 384L210 420L232 420L226 340Z" />
        </g>
      );
    case "tweed":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill={s.second} d="M150 324L180 380L210 324Z" />
          <path fill="#6a4e33" d="M150 324L170 376L154 420L132 420L136 340Z M210 324L190 376L206 420L228 420L224 340Z" />
          <path fill="none" stroke="#5c4330" strokeWidth={1} opacity={0.5} d="M70 380L110 376M250 376L290 380M80 400L112 396M248 396L282 400" />
        </g>
      );
    case "workwear":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill={s.second} d="M70 420C74 370 104 346 134 336L158 420Z M290 420C286 370 256 346 226 336L202 420Z" />
          <path stroke="#c0c0c0" strokeWidth={7} d="M84 392L150 392M210 392L276 392" />
          <path fill="#20304a" d="M150 326L180 352L210 326L200 322L180 340L160 322Z" />
        </g>
      );
    case "sporty":
      return (
        <g>
          <path fill={s.main} d={body} />
          <path fill="none" stroke={s.second} strokeWidth={5} d="M60 380C86 352 118 338 146 332M300 380C274 352 242 338 214 332" />
          <path stroke="#1d6f66" strokeWidth={3} d="M180 340L180 420" />
          <path fill={s.main} d="M152 318L180 342L208 318L208 330L180 350L152 330Z" />
        </g>
      );
  }
}

/** One eye: white, iris (moved by the gaze), and an upper lid (its height is the blink). */
function Eye({ x, s, clip, lid, lidRef, irisRef }: {
  x: number; s: Style; clip: string; lid: string;
  lidRef: (el: SVGRectElement | null) => void; irisRef: (el: SVGGElement | null) => void;
}) {
  return (
    <g>
      <clipPath id={clip}>
        <ellipse cx={x} cy={EYE_Y} rx={15} ry={EYE_RY} />
      </clipPath>
      <g clipPath={`url(#${clip})`}>
        <rect x={x - 16} y={EYE_Y - 10} width={32} height={20} fill="#fbfbf8" />
        <g ref={irisRef}>
          <circle cx={x} cy={EYE_Y} r={7.5} fill={s.iris} />
          <circle cx={x} cy={EYE_Y} r={3.5} fill="#111" />
          <circle cx={x + 2.5} cy={EYE_Y - 2.5} r={1.6} fill="#fff" />
        </g>
        <rect ref={lidRef} x={x - 16} y={EYE_Y - EYE_RY - 1} width={32} height={lid} fill={s.skin} />
      </g>
      <path fill="none" stroke="#3a2a22" strokeWidth={1.6} d={`M${x - 15} ${EYE_Y}C${x - 9} ${EYE_Y - 11} ${x + 9} ${EYE_Y - 11} ${x + 15} ${EYE_Y}`} />
    </g>
  );
}

/** The state's head pose and gaze at time `t` (s); small, slow, never still. */
function pose(state: AvatarState, t: number, tilt: number, moving: boolean): { head: string; gx: number; gy: number } {
  if (!moving) return { head: `rotate(${tilt} ${CX} 300)`, gx: 0, gy: 0 };
  const sway = Math.sin(t * 0.9) * 0.8 + Math.sin(t * 0.37) * 0.6;
  switch (state) {
    case "listening": {
      // Small nods, now and then, with an attentive, level gaze.
      const nod = Math.max(0, Math.sin(t * 2.4)) * 2.2;
      return { head: `translate(0 ${(nod * 0.6).toFixed(1)}) rotate(${(tilt + 1.5 + sway * 0.4).toFixed(1)} ${CX} 300)`, gx: 0, gy: 0.5 };
    }
    case "thinking":
      return { head: `rotate(${(tilt - 3 + sway * 0.3).toFixed(1)} ${CX} 300)`, gx: -4, gy: -4 };
    case "speaking": {
      const bob = Math.sin(t * 3.1) * 0.8;
      return { head: `translate(0 ${bob.toFixed(1)}) rotate(${(tilt + sway).toFixed(1)} ${CX} 300)`, gx: Math.sin(t * 0.5) * 1.2, gy: 0 };
    }
    default:
      return { head: `rotate(${(tilt + sway).toFixed(1)} ${CX} 300)`, gx: Math.sin(t * 0.3) * 2, gy: 0 };
  }
}

/**
 * Memoised: the voice panel re-renders on every level and playback report (~30 times a second);
 * the face's drawing only changes with its look, demeanour or frame source.
 */
export const Avatar = memo(function Avatar({ look, demeanour, frame, still, label }: AvatarProps) {
  const s = STYLES[look];
  const b = BEARINGS[demeanour];
  const id = `av${useId().replace(/[^A-Za-z0-9]/g, "")}`; // ids in url(#…) references: plain characters only
  const root = useRef<SVGSVGElement>(null);
  const head = useRef<SVGGElement>(null);
  const lips = useRef<SVGPathElement>(null);
  const opening = useRef<SVGPathElement>(null);
  const teeth = useRef<SVGRectElement>(null);
  const tongue = useRef<SVGEllipseElement>(null);
  const brows = useRef<SVGGElement>(null);
  const lids = useRef<(SVGRectElement | null)[]>([null, null]);
  const irises = useRef<(SVGGElement | null)[]>([null, null]);
  const initial = mouthPaths(SHAPES[still?.viseme ?? "sil"], b.smile, CX, MOUTH_Y, b.skew);

  useEffect(() => {
    const svg = root.current;
    if (!svg || !frame) return;
    const motion = window.matchMedia("(prefers-reduced-motion: reduce)");
    const mouth: MouthShape = { ...SHAPES.sil };
    let raf = 0;
    let last = performance.now();
    let nextBlink = last + 1500 + Math.random() * 2500;
    let blinkStart = -1;
    let shownState = "";
    let shownViseme = "";
    let shownLids = -1;
    let shownHead = "";
    let shownGaze = "";
    const setLids = (closed: number) => {
      const h = (b.lids + (1 - b.lids) * closed) * (EYE_RY * 2 + 2) + 1;
      if (Math.abs(h - shownLids) < 0.05) return;
      shownLids = h;
      for (const lid of lids.current) lid?.setAttribute("height", h.toFixed(1));
    };
    const tick = (now: number) => {
      raf = requestAnimationFrame(tick);
      const dt = Math.min(100, now - last);
      last = now;
      const f = frame(now);
      const moving = !motion.matches;
      if (f.state !== shownState) {
        shownState = f.state;
        svg.dataset.state = f.state;
        brows.current?.setAttribute("transform", `translate(0 ${f.state === "listening" ? -2.5 : f.state === "thinking" ? -1.5 : 0})`);
      }
      if (f.viseme !== shownViseme) {
        shownViseme = f.viseme;
        svg.dataset.viseme = f.viseme;
      }
      // Lips: a fast blend toward the due shape (time constant 25 ms, so a shape is reached well
      // inside its own duration and the mouth is shut within ~75 ms of an interruption).
      if (blend(mouth, SHAPES[f.viseme], dt, 25)) {
        const smile = f.state === "speaking" ? b.smile * 0.4 : b.smile;
        const p = mouthPaths(mouth, smile, CX, MOUTH_Y, f.state === "speaking" ? b.skew * 0.4 : b.skew);
        lips.current?.setAttribute("d", p.lips);
        opening.current?.setAttribute("d", p.opening);
        teeth.current?.setAttribute("y", String(p.teethY));
        teeth.current?.setAttribute("height", String(p.teethHeight));
        tongue.current?.setAttribute("cy", String(p.tongueY));
        tongue.current?.setAttribute("opacity", String(p.tongueOpacity));
      }
      // Blink every few seconds (120 ms down and up); slower under reduced motion.
      if (blinkStart < 0 && now >= nextBlink) blinkStart = now;
      if (blinkStart >= 0) {
        const k = (now - blinkStart) / 120;
        setLids(k < 1 ? k : Math.max(0, 2 - k));
        if (k >= 2) {
          blinkStart = -1;
          nextBlink = now + (moving ? 2200 + Math.random() * 3800 : 6000 + Math.random() * 4000);
        }
      } else setLids(f.state === "thinking" ? 0.15 : 0);
      // Head and gaze move slowly: set them only when the change shows (0.1 units), so most
      // frames repaint nothing but the mouth.
      const p = pose(f.state, now / 1000, b.tilt, moving);
      if (p.head !== shownHead) {
        shownHead = p.head;
        head.current?.setAttribute("transform", p.head);
      }
      const gaze = `translate(${p.gx.toFixed(1)} ${p.gy.toFixed(1)})`;
      if (gaze !== shownGaze) {
        shownGaze = gaze;
        for (const iris of irises.current) iris?.setAttribute("transform", gaze);
      }
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [frame, b]);

  const lid0 = (b.lids * (EYE_RY * 2 + 2) + 1).toFixed(1);
  const [bl, br, il, ir] = b.brows;
  const browY = EYE_Y - 22;
  const browStroke = s.hairStyle === "balding" || s.hairStyle === "bun" ? "#8a8a8a" : s.hair;
  const jaw = 78 * s.jaw;
  return (
    <svg
      ref={root}
      className="avatar"
      viewBox="0 0 360 420"
      role="img"
      aria-label={label ?? `Avatar: ${LOOK_LABELS[look]}`}
      data-testid="avatar"
      data-look={look}
      data-demeanour={demeanour}
      data-state={still?.state ?? "idle"}
      data-viseme={still?.viseme ?? "sil"}
    >
      <rect width="360" height="420" fill="#e8edf2" />
      <Hair s={s} back />
      <path fill={s.shade} d="M150 250L150 330C160 346 200 346 210 330L210 250Z" />
      <Outfit s={s} />
      <g ref={head} data-part="head" transform={`rotate(${b.tilt} ${CX} 300)`}>
        <ellipse cx={CX - jaw - 2} cy={188} rx={11} ry={17} fill={s.shade} />
        <ellipse cx={CX + jaw + 2} cy={188} rx={11} ry={17} fill={s.shade} />
        <path fill={s.skin} d={`M${CX - jaw} 170C${CX - jaw} 100 ${CX - 44} 86 ${CX} 86S${CX + jaw} 100 ${CX + jaw} 170C${CX + jaw} 236 ${CX + 40} 292 ${CX} 292S${CX - jaw} 236 ${CX - jaw} 170Z`} />
        {s.earrings ? (
          <g fill={s.earrings}>
            <circle cx={CX - jaw - 3} cy={208} r={4} />
            <circle cx={CX + jaw + 3} cy={208} r={4} />
          </g>
        ) : null}
        <ellipse cx={CX - 44} cy={226} rx={14} ry={8} fill="#e07a7a" opacity={0.18} />
        <ellipse cx={CX + 44} cy={226} rx={14} ry={8} fill="#e07a7a" opacity={0.18} />
        {s.senior ? (
          <g fill="none" stroke={s.shade} strokeWidth={1.5} strokeLinecap="round">
            <path d="M150 140C165 136 195 136 210 140M154 148C168 145 192 145 206 148" />
            <path d="M126 186L118 190M234 186L242 190M140 232C136 244 138 256 146 264M220 232C224 244 222 256 214 264" />
          </g>
        ) : null}
        {s.beard === "full" ? (
          <path fill={s.hair} opacity={0.92} d={`M${CX - jaw + 2} 196C${CX - jaw + 8} 246 ${CX - 40} 300 ${CX} 302S${CX + jaw - 8} 246 ${CX + jaw - 2} 196C${CX + 52} 226 ${CX + 40} 238 ${CX + 24} 236C${CX + 10} 234 ${CX - 10} 234 ${CX - 24} 236C${CX - 40} 238 ${CX - 52} 226 ${CX - jaw + 2} 196Z`} />
        ) : null}
        <Eye x={CX - 32} s={s} clip={`${id}l`} lid={lid0} lidRef={(el) => { lids.current[0] = el; }} irisRef={(el) => { irises.current[0] = el; }} />
        <Eye x={CX + 32} s={s} clip={`${id}r`} lid={lid0} lidRef={(el) => { lids.current[1] = el; }} irisRef={(el) => { irises.current[1] = el; }} />
        <g ref={brows} fill="none" stroke={browStroke} strokeWidth={s.senior ? 4 : 5} strokeLinecap="round">
          <path d={`M${CX - 50} ${browY - bl + 3}Q${CX - 34} ${browY - bl - 5} ${CX - 16} ${browY - bl + il + 1}`} />
          <path d={`M${CX + 50} ${browY - br + 3}Q${CX + 34} ${browY - br - 5} ${CX + 16} ${browY - br + ir + 1}`} />
        </g>
        <path fill="none" stroke={s.shade} strokeWidth={3} strokeLinecap="round" d="M176 192C172 208 168 218 172 224C176 228 184 228 190 224" />
        <clipPath id={`${id}m`}>
          <use href={`#${id}o`} />
        </clipPath>
        <path ref={lips} fill={s.lips} d={initial.lips} />
        <path ref={opening} id={`${id}o`} fill="#3b1418" stroke="#4a1c1f" strokeWidth={1.4} d={initial.opening} />
        <g clipPath={`url(#${id}m)`}>
          <ellipse ref={tongue} cx={CX} cy={initial.tongueY} rx={14} ry={6} fill="#c25b63" opacity={initial.tongueOpacity} />
          <rect ref={teeth} x={CX - 26} y={initial.teethY} width={52} height={initial.teethHeight} fill="#f7f4ec" />
        </g>
        {s.beard === "moustache" || s.beard === "full" ? (
          <path fill={s.beard === "full" ? s.hair : "#bdbdbd"} d={`M${CX - 30} ${MOUTH_Y - 8}C${CX - 20} ${MOUTH_Y - 20} ${CX + 20} ${MOUTH_Y - 20} ${CX + 30} ${MOUTH_Y - 8}C${CX + 16} ${MOUTH_Y - 12} ${CX - 16} ${MOUTH_Y - 12} ${CX - 30} ${MOUTH_Y - 8}Z`} />
        ) : null}
        <Hair s={s} back={false} />
        {s.glasses ? (
          <g fill="none" stroke="#4b3b2f" strokeWidth={3}>
            <rect x={CX - 54} y={EYE_Y - 17} width={44} height={32} rx={10} />
            <rect x={CX + 10} y={EYE_Y - 17} width={44} height={32} rx={10} />
            <path d={`M${CX - 10} ${EYE_Y - 4}Q${CX} ${EYE_Y - 10} ${CX + 10} ${EYE_Y - 4}M${CX - 54} ${EYE_Y - 6}L${CX - jaw} ${EYE_Y - 10}M${CX + 54} ${EYE_Y - 6}L${CX + jaw} ${EYE_Y - 10}`} />
          </g>
        ) : null}
      </g>
    </svg>
  );
});
