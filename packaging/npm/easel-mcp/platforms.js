// Which native package serves which platform, and how to find its binary. Shared by the
// launcher (bin/easel-mcp.js) and the install step (install.js), so they cannot disagree.
"use strict";

const path = require("path");

// `${process.platform}-${process.arch}` -> the package that npm installs there, through
// optionalDependencies + its own `os`/`cpu` fields (nothing is downloaded by our scripts).
const PACKAGES = {
  "linux-x64": "@easel-mcp/linux-x64",
  "linux-arm64": "@easel-mcp/linux-arm64",
  "darwin-x64": "@easel-mcp/darwin-x64",
  "darwin-arm64": "@easel-mcp/darwin-arm64",
  "win32-x64": "@easel-mcp/win32-x64",
};

const FROM_SOURCE = [
  "Build it from source instead (needs Rust 1.89 or newer and a C compiler):",
  "  pip install easel-mcp          (builds the PyPI sdist where no wheel fits)",
  "  cargo install --locked --profile dist --git https://github.com/easel-mcp/easel easel",
].join("\n");

// EASEL_MCP_PLATFORM overrides the detected platform: the smoke test uses it to check the
// message an unsupported platform gets, on a machine that is supported.
function currentPlatform(env) {
  return (env || process.env).EASEL_MCP_PLATFORM || `${process.platform}-${process.arch}`;
}

// Returns { binary } or { error } (a message for a person, naming what to do).
function resolveBinary(platform) {
  const pkg = PACKAGES[platform];
  if (!pkg) {
    return {
      error:
        `easel-mcp: no prebuilt binary for ${platform}.\n` +
        `Supported platforms: ${Object.keys(PACKAGES).join(", ")}.\n` +
        FROM_SOURCE,
    };
  }
  let dir;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch (_) {
    return {
      error:
        `easel-mcp: the package ${pkg} for ${platform} is not installed.\n` +
        "npm installs it as an optional dependency: reinstall without --omit=optional or\n" +
        "--no-optional (and with the same OS and CPU that will run it).\n" +
        FROM_SOURCE,
    };
  }
  const exe = platform.startsWith("win32-") ? "easel-mcp.exe" : "easel-mcp";
  return { binary: path.join(dir, "bin", exe) };
}

module.exports = { PACKAGES, currentPlatform, resolveBinary };
