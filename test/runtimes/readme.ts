/**
 * README.md as the tests read it: its fenced code blocks straight from the file (never a copy), so the snippets
 * and commands a user reads are the ones that are type-checked and run.
 *
 * A block's info string is its language, then optionally the file the block is meant to be saved as:
 * ```` ```ts src/index.ts ````. Renderers use the first word for highlighting and ignore the rest.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./packed-project.js";

export interface CodeBlock {
  lang: string;
  /** The file name after the language, if any. */
  file: string | undefined;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/** Every fenced block of a markdown text, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*(\S*)\s*(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(fence)) body.push(lines[j++]!);
    if (j === lines.length) throw new Error(`unclosed code block at line ${i + 1}`);
    blocks.push({ lang: open[2]!, file: open[3] || undefined, code: body.join("\n") + "\n", line: i + 1 });
    i = j;
  }
  return blocks;
}

export function readme(): string {
  return readFileSync(join(repoRoot, "README.md"), "utf8");
}

/** The README's code blocks. */
export function readmeBlocks(): CodeBlock[] {
  return codeBlocks(readme());
}

/** The JavaScript and TypeScript blocks: the snippets every check covers. */
export function readmeSnippets(): CodeBlock[] {
  return readmeBlocks().filter((b) => ["js", "mjs", "ts"].includes(b.lang));
}

/** Shell lines of the README's sh blocks, comments and blank lines dropped, with the block they come from. */
export function readmeShellLines(): { line: string; block: CodeBlock }[] {
  return readmeBlocks()
    .filter((b) => b.lang === "sh")
    .flatMap((block) => block.code.split("\n").map((l) => ({ line: l.replace(/\s+#.*$/, "").trim(), block })))
    .filter((x) => x.line !== "" && !x.line.startsWith("#"));
}

/** The inline module scripts (`<script type="module">`) of an HTML page, in order. */
export function moduleScripts(html: string): string[] {
  return [...html.matchAll(/<script type="module">([\s\S]*?)<\/script>/g)].map((m) => m[1]!.replace(/^\n/, ""));
}
