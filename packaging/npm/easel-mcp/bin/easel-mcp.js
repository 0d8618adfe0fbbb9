#!/usr/bin/env node
// easel-mcp's npm launcher: finds the native binary that npm installed for this platform and
// runs it. On Linux and macOS, install.js normally replaces this file with that binary, so
// `easel-mcp` then starts no Node at all; this script is what runs where it could not (Windows,
// or installs with --ignore-scripts).
"use strict";

const { spawn } = require("child_process");
const { currentPlatform, resolveBinary } = require("../platforms.js");

const found = resolveBinary(currentPlatform());
if (found.error) {
  console.error(found.error);
  process.exit(1);
}

const child = spawn(found.binary, process.argv.slice(2), { stdio: "inherit", windowsHide: true });
// Pass on the signals a client or a terminal sends, so the server shuts down cleanly.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (err) => {
  console.error(`easel-mcp: cannot run ${found.binary}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code === null ? 1 : code);
  }
});
