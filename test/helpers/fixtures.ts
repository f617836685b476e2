/** Reads the golden fixtures under test/fixtures/<case>/ (format: tools/make_fixtures.py's docstring). */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/", import.meta.url));

export interface Fixture {
  name: string;
  dir: string;
  weightsPath: string;
  config: Record<string, unknown>;
  ids: number[][];
  /** Positions the reference logits are given at, or null for all. */
  positions: number[] | null;
  shape: [number, number, number];
  weightsDtype: string;
  description: string;
  /** Reference logits, float32, C order, `shape`. */
  logits: Float32Array;
  maxAbs: number;
  /** Whether the official arch defaults applied to the weights' names and shapes give config.json. */
  configFromNames: boolean;
}

export function fixtureNames(): string[] {
  if (!existsSync(FIXTURES_DIR)) return [];
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(`${FIXTURES_DIR}${e.name}/model.safetensors`))
    .map((e) => e.name)
    .sort();
}

export function readFixture(name: string): Fixture {
  const dir = `${FIXTURES_DIR}${name}/`;
  const input = JSON.parse(readFileSync(`${dir}input.json`, "utf8"));
  const raw = readFileSync(`${dir}logits.bin`);
  const logits = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return {
    name,
    dir,
    weightsPath: `${dir}model.safetensors`,
    config: JSON.parse(readFileSync(`${dir}config.json`, "utf8")),
    ids: input.ids,
    positions: input.positions,
    shape: input.logits_shape,
    weightsDtype: input.weights_dtype,
    description: input.description,
    logits,
    maxAbs: input.max_abs_logit,
    configFromNames: input.config_from_names === true,
  };
}

/** Rows `positions` (or all) of logits `[batch, n, V]`, flattened like the fixture's. */
export function pickPositions(all: Float32Array, batch: number, n: number, vocab: number, positions: number[] | null): Float32Array {
  if (!positions) return all;
  const out = new Float32Array(batch * positions.length * vocab);
  for (let b = 0; b < batch; b++) {
    positions.forEach((p, i) => out.set(all.subarray((b * n + p) * vocab, (b * n + p + 1) * vocab), (b * positions.length + i) * vocab));
  }
  return out;
}
