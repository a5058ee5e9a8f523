import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Avatar } from "./Avatar";
import { demeanourOf, isLook, LOOK_IDS, LOOK_LABELS, type Demeanour, type LookId } from "./looks";

const still = { state: "idle" as const, viseme: "sil" as const, replyMs: undefined };
const draw = (look: LookId, demeanour: Demeanour = "neutral") =>
  renderToStaticMarkup(createElement(Avatar, { look, demeanour, still }));

describe("looks", () => {
  it("are the eight contract ids, across gender, age and style", () => {
    expect(LOOK_IDS).toHaveLength(8);
    const parts = LOOK_IDS.map((id) => id.split("-"));
    expect(new Set(parts.map((p) => p[0]))).toEqual(new Set(["woman", "man"]));
    expect(new Set(parts.map((p) => p[1]))).toEqual(new Set(["young", "middle", "senior"]));
    expect(new Set(parts.map((p) => p[2])).size).toBeGreaterThanOrEqual(4);
    for (const id of LOOK_IDS) expect(LOOK_LABELS[id]).toBeTruthy();
    expect(isLook("man-young-casual")).toBe(true);
    expect(isLook("robot")).toBe(false);
  });

  it("are each drawn differently, and say which look they are", () => {
    const drawings = LOOK_IDS.map((look) => draw(look));
    expect(new Set(drawings).size).toBe(LOOK_IDS.length);
    LOOK_IDS.forEach((look, i) => expect(drawings[i]).toContain(`data-look="${look}"`));
    // No external asset: nothing is fetched (no href/src to a URL, no <image>).
    for (const svg of drawings) expect(svg).not.toMatch(/<image|(?:href|src)="(?:https?:)?\/\//);
  });

  it("show the demeanour in the face (brows, lids, mouth)", () => {
    const faces = (["friendly", "neutral", "sceptical", "impatient"] as const).map((d) => draw("man-middle-workwear", d));
    expect(new Set(faces).size).toBe(4);
  });
});

describe("demeanour", () => {
  it("follows the persona's own words first", () => {
    expect(demeanourOf({ kind: "customer", difficulty: "hard", personality: "Confident, skeptical, has done his homework online." })).toBe("sceptical");
    expect(demeanourOf({ kind: "customer", difficulty: "medium", personality: "Analytical, suspicious of add-ons." })).toBe("sceptical");
    expect(demeanourOf({ kind: "customer", difficulty: "hard", personality: "Impatient and blunt." })).toBe("impatient");
    expect(demeanourOf({ kind: "customer", difficulty: "medium", personality: "Practical, short on time." })).toBe("impatient");
    expect(demeanourOf({ kind: "customer", difficulty: "easy", personality: "Friendly, enthusiastic." })).toBe("friendly");
  });

  it("else its difficulty; the trainer is friendly", () => {
    expect(demeanourOf({ kind: "customer", difficulty: "easy" })).toBe("friendly");
    expect(demeanourOf({ kind: "customer", difficulty: "medium" })).toBe("neutral");
    expect(demeanourOf({ kind: "customer", difficulty: "hard" })).toBe("sceptical");
    expect(demeanourOf({ kind: "trainer", difficulty: "hard", personality: "blunt" })).toBe("friendly");
    expect(demeanourOf(undefined)).toBe("friendly");
  });
});
