import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses named events split across chunks", () => {
    const parser = new SseParser();
    expect(parser.push('event: delta\ndata: {"text":"Hel')).toEqual([]);
    expect(parser.push('lo"}\n\nevent: done\r\ndata: {}\r\n\r\n')).toEqual([
      { event: "delta", data: '{"text":"Hello"}' },
      { event: "done", data: "{}" },
    ]);
  });

  it("joins multi-line data and skips comments", () => {
    const parser = new SseParser();
    expect(parser.push(": keep-alive\n\ndata: a\ndata: b\n\n")).toEqual([{ event: "message", data: "a\nb" }]);
  });
});
