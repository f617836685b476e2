#!/usr/bin/env node
// The README's first command (`npm start -- "prompt"`): generates text from the model shipped in models/kjv-byte.
// Any arguments are passed to `tnn generate`; with none, a default prompt is used.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const args = process.argv.slice(2);
const r = spawnSync(process.execPath, [cli, "generate", ...(args.length ? args : ["In the beginning"])], { stdio: "inherit" });
process.exit(r.status ?? 1);
