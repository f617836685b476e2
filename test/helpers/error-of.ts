/** The error `p` (a promise, or a function that returns or throws) ends in, or undefined when it succeeds. */
export async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e;
  }
  return undefined;
}
