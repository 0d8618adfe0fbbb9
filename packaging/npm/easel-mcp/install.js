// postinstall: checks that this platform has a native binary, and on Linux and macOS puts that
// binary in place of the JS launcher, so that `easel-mcp` (and `npx -y easel-mcp`) run it with
// no extra Node process alive between the MCP client and easel. Nothing is downloaded: npm
// already installed the binary through optionalDependencies.
"use strict";

const fs = require("fs");
const path = require("path");
const { currentPlatform, resolveBinary } = require("./platforms.js");

const platform = currentPlatform();
const found = resolveBinary(platform);
if (found.error) {
  // Failing here makes npm roll the install back: no half-installed easel-mcp is left.
  console.error(found.error);
  process.exit(1);
}
if (!fs.existsSync(found.binary)) {
  console.error(`easel-mcp: ${found.binary} is missing from its package; reinstall easel-mcp.`);
  process.exit(1);
}

// Windows cannot run a binary under a .js name through npm's shims: keep the launcher there.
if (platform.startsWith("win32-") || process.platform === "win32") process.exit(0);

const launcher = path.join(__dirname, "bin", "easel-mcp.js");
const staged = `${launcher}.${process.pid}.tmp`;
try {
  try {
    fs.linkSync(found.binary, staged); // a hard link costs no space
  } catch (_) {
    fs.copyFileSync(found.binary, staged); // other filesystem: copy
  }
  fs.chmodSync(staged, 0o755);
  fs.renameSync(staged, launcher); // atomic: the launcher is whole before and after
} catch (err) {
  try {
    fs.unlinkSync(staged);
  } catch (_) {}
  // The JS launcher still works; only the extra Node process stays.
  console.error(`easel-mcp: kept the JS launcher (${err.message})`);
}
