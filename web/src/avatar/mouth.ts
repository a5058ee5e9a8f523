/** The mouth's geometry: each viseme as a few numbers, blended over time and drawn as SVG paths. */

import type { Viseme } from "./visemes";

export interface MouthShape {
  /** Jaw drop, in drawing units. */
  open: number;
  /** Width relative to rest. */
  wide: number;
  /** Lips pushed forward and rounded (0-1). */
  round: number;
  /** Upper teeth showing (0-1). */
  teeth: number;
  /** Tongue showing (0-1). */
  tongue: number;
}

export const SHAPES: Record<Viseme, MouthShape> = {
  sil: { open: 0, wide: 1, round: 0, teeth: 0, tongue: 0 },
  PP: { open: 0, wide: 0.92, round: 0.1, teeth: 0, tongue: 0 },
  FF: { open: 4, wide: 1, round: 0, teeth: 1, tongue: 0 },
  TH: { open: 8, wide: 1, round: 0, teeth: 0.6, tongue: 1 },
  DD: { open: 10, wide: 1, round: 0, teeth: 0.6, tongue: 0.5 },
  KK: { open: 14, wide: 0.95, round: 0, teeth: 0.4, tongue: 0.2 },
  CH: { open: 9, wide: 0.78, round: 0.6, teeth: 0.8, tongue: 0 },
  SS: { open: 5, wide: 1.08, round: 0, teeth: 1, tongue: 0 },
  RR: { open: 10, wide: 0.82, round: 0.5, teeth: 0.3, tongue: 0.2 },
  AA: { open: 26, wide: 1, round: 0, teeth: 0.3, tongue: 0.3 },
  EE: { open: 11, wide: 1.16, round: 0, teeth: 0.7, tongue: 0.1 },
  OO: { open: 17, wide: 0.66, round: 1, teeth: 0, tongue: 0 },
};

const KEYS = ["open", "wide", "round", "teeth", "tongue"] as const;

/** Moves `current` toward `target` with time constant `tau` ms (in place); returns whether it moved. */
export function blend(current: MouthShape, target: MouthShape, dt: number, tau: number): boolean {
  const k = tau <= 0 ? 1 : Math.min(1, dt / tau);
  let moved = false;
  for (const key of KEYS) {
    const next = current[key] + (target[key] - current[key]) * k;
    const settled = Math.abs(target[key] - next) < 0.01 ? target[key] : next;
    if (settled !== current[key]) moved = true;
    current[key] = settled;
  }
  return moved;
}

const r = (n: number) => Math.round(n * 10) / 10;

export interface MouthPaths {
  lips: string;
  opening: string;
  teethY: number;
  teethHeight: number;
  tongueY: number;
  tongueOpacity: number;
}

/**
 * Lips and the opening between them, centred on (cx, cy); `smile` lifts the corners (-1..1),
 * `skew` lifts the left one and drops the right (a doubtful half-smile).
 */
export function mouthPaths(s: MouthShape, smile: number, cx: number, cy: number, skew = 0): MouthPaths {
  const w = 29 * s.wide * (1 - 0.3 * s.round);
  const mid = cy - smile * 5 * (1 - s.round);
  const left = mid - skew * 5;
  const right = mid + skew * 2;
  const up = 6 + s.open * 0.22 + s.round * 4;
  const low = 8 + s.open * 0.8 + s.round * 4;
  const lips =
    `M${r(cx - w)} ${r(left)}C${r(cx - w * 0.55)} ${r(cy - up)} ${r(cx - w * 0.25)} ${r(cy - up - 1.5)} ${r(cx)} ${r(cy - up + 2)}` +
    `C${r(cx + w * 0.25)} ${r(cy - up - 1.5)} ${r(cx + w * 0.55)} ${r(cy - up)} ${r(cx + w)} ${r(right)}` +
    `C${r(cx + w * 0.6)} ${r(cy + low)} ${r(cx - w * 0.6)} ${r(cy + low)} ${r(cx - w)} ${r(left)}Z`;
  const wi = w * 0.8;
  const top = cy - s.open * 0.25;
  const bottom = cy + s.open * 0.75;
  const opening =
    `M${r(cx - wi)} ${r(left)}C${r(cx - wi * 0.5)} ${r(top)} ${r(cx + wi * 0.5)} ${r(top)} ${r(cx + wi)} ${r(right)}` +
    `C${r(cx + wi * 0.5)} ${r(bottom)} ${r(cx - wi * 0.5)} ${r(bottom)} ${r(cx - wi)} ${r(left)}Z`;
  return {
    lips,
    opening,
    teethY: r(top - 2),
    teethHeight: r(2 + s.teeth * 5),
    tongueY: r(bottom - 2),
    tongueOpacity: r(s.tongue),
  };
}
