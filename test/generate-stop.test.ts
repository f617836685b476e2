import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../ts/core/errors.js";
import { StopMatcher } from "../ts/generate/stop.js";

/** Feeds pieces, returns the shown text and whether it stopped. */
function run(stops: string[], pieces: string[]): { shown: string; stopped: boolean; shownAt: string[] } {
  const m = new StopMatcher(stops);
  let shown = "";
  const shownAt: string[] = [];
  for (const p of pieces) {
    const r = m.push(p);
    shown += r.text;
    shownAt.push(r.text);
    if (r.stopped) return { shown, stopped: true, shownAt };
  }
  return { shown: shown + m.flush(), stopped: false, shownAt };
}

describe("StopMatcher", () => {
  it("passes text through when there are no stop strings", () => {
    expect(run([], ["a", "b"])).toEqual({ shown: "ab", stopped: false, shownAt: ["a", "b"] });
  });

  it("finds a stop string split across pieces and shows nothing of it", () => {
    const r = run(["\n\nThe End"], ["the end", ".\n", "\nThe", " E", "nd and more"]);
    expect(r.stopped).toBe(true);
    expect(r.shown).toBe("the end.");
    // The newline was held back while it could still start the stop string.
    expect(r.shownAt).toEqual(["the end", ".", "", "", ""]);
  });

  it("releases held text once it can no longer be a stop string", () => {
    const r = run(["STOP"], ["ab S", "T", "O", "P!"]);
    expect(r).toEqual({ shown: "ab ", stopped: true, shownAt: ["ab ", "", "", ""] });
    const r2 = run(["STOP"], ["ab S", "T", "x"]);
    expect(r2.stopped).toBe(false);
    expect(r2.shownAt).toEqual(["ab ", "", "STx"]);
    expect(run(["STOP"], ["ST"]).shown).toBe("ST"); // flushed at the end
  });

  it("stops at the earliest of several stop strings, even inside one piece", () => {
    expect(run(["cd", "b"], ["abcd"]).shown).toBe("a");
    expect(run(["xyz", "yq"], ["x", "y", "q"]).shown).toBe("x");
    // overlapping self-prefix: "aab" inside "aaab"
    expect(run(["aab"], ["a", "a", "a", "b"]).shown).toBe("a");
  });

  it("rejects empty stop strings", () => {
    expect(() => new StopMatcher([""])).toThrow(InvalidOptionError);
    expect(() => new StopMatcher([3 as never])).toThrow(InvalidOptionError);
  });
});
