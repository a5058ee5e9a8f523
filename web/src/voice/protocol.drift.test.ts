// The web client's copy of the voice protocol must match the server's single definition
// (`server/voice/protocol.py` `definitions()`), read through scripts/export_voice_protocol.py.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import * as protocol from "./protocol";

const repo = resolve(import.meta.dirname, "../../..");
const venvPython = resolve(repo, ".venv/bin/python");
const python = process.env.PYTHON ?? (existsSync(venvPython) ? venvPython : "python3");
const run = spawnSync(python, [resolve(repo, "web/scripts/export_voice_protocol.py")], { cwd: repo, encoding: "utf8" });
const missing = run.status === 3 ? run.stderr.trim() : undefined;
if (run.status !== 0 && run.status !== 3) throw new Error(`exporting the server protocol failed:\n${run.stderr}`);
const server = missing ? undefined : (JSON.parse(run.stdout) as Record<string, unknown>);

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const camelKeys = (map: unknown) => Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([k, v]) => [camel(k), v]));

describe("voice protocol mirror", () => {
  const check = (name: string, fn: (s: Record<string, unknown>) => void) =>
    it(name, (ctx) => {
      if (!server) return ctx.skip(`needs issue 5 backend: ${missing}`);
      fn(server);
    });

  check("has the same version, path and audio framing", (s) => {
    expect(protocol.PROTOCOL_VERSION).toBe(s.version);
    expect(protocol.VOICE_PATH).toBe(s.path);
    expect(protocol.MAX_MESSAGE_BYTES).toBe(s.max_message_bytes);
    expect(protocol.FRAME_MS).toBe(s.frame_ms);
    expect([...protocol.INPUT_SAMPLE_RATES]).toEqual(s.input_sample_rates);
    expect([...protocol.OUTPUT_SAMPLE_RATES]).toEqual(s.output_sample_rates);
  });

  check("has the same event names", (s) => {
    expect(protocol.ClientEvent).toEqual(camelKeys(s.client_events));
    expect(protocol.ServerEvent).toEqual(camelKeys(s.server_events));
  });

  check("has the same close codes, error codes and end reasons", (s) => {
    expect(protocol.CloseCode).toEqual(camelKeys(s.close_codes));
    expect(protocol.ErrorCode).toEqual(camelKeys(s.error_codes));
    expect(protocol.EndReason).toEqual(camelKeys(s.end_reasons));
  });

  check("has the same warning codes", (s) => {
    expect(protocol.WarningCode).toEqual(camelKeys(s.warning_codes));
  });

  check("has the same avatar providers, fallbacks, error codes and speaking states", (s) => {
    expect(protocol.AvatarProvider).toEqual(camelKeys(s.avatar_providers));
    expect(protocol.AvatarFallback).toEqual(camelKeys(s.avatar_fallbacks));
    expect(protocol.AvatarErrorCode).toEqual(camelKeys(s.avatar_error_codes));
    expect(protocol.AvatarSpeakingState).toEqual(camelKeys(s.avatar_speaking_states));
  });

  check("has the same reconnect reasons", (s) => {
    expect(protocol.ReconnectReason).toEqual(camelKeys(s.reconnect_reasons));
  });
});
