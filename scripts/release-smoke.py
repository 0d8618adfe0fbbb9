#!/usr/bin/env python3
"""The per-platform smoke test of an installed easel entry point, on any OS python3 runs on.

scripts/smoke checks every channel on Linux x86_64 (it needs /proc, GNU tools and podman);
this is the part that means the same on macOS and Windows runners, and under Wine here:

    release-smoke.py [--version X.Y.Z] [--timeout S] -- COMMAND [ARG...]

runs `COMMAND --version` (and checks it names the version), `COMMAND demo --count 1 --out
<temp>` (and checks an image was saved), and `COMMAND serve` with an MCP initialize +
notifications/initialized + tools/list over stdio. COMMAND may be several words (`wine
easel-mcp.exe`, `uvx --offline --from x.whl easel-mcp`). Prints one line per check and ends
with "N passed, N failed"; exits non-zero on any failure. Standard library only; reading the
server's stdout uses a thread, since select() does not take pipes on Windows. Every wait is
bounded.
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def run(cmd, timeout, env):
    p = subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        env=env,
    )
    return p.returncode, p.stdout.decode("utf-8", "replace")


def images_under(folder):
    return [
        os.path.join(d, f)
        for d, _, files in os.walk(folder)
        for f in files
        if f.lower().endswith(IMAGE_SUFFIXES)
    ]


def mcp_tools(cmd, timeout, env):
    """initialize + tools/list over stdio; returns (tool names, milliseconds)."""
    started = time.monotonic()
    child = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    lines = queue.Queue()

    def reader():
        for line in child.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()

    def send(msg):
        child.stdin.write((json.dumps(msg) + "\n").encode())
        child.stdin.flush()

    def answer(want_id):
        deadline = started + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to request {want_id} within {timeout} s")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"the server closed stdout (exit {child.poll()})")
            if line.strip():
                msg = json.loads(line)
                if msg.get("id") == want_id:
                    return msg

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "easel-release-smoke", "version": "0"},
                },
            }
        )
        init = answer(1)
        if "result" not in init:
            raise RuntimeError(f"initialize failed: {init}")
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = answer(2).get("result", {}).get("tools", [])
        return [t.get("name") for t in tools], (time.monotonic() - started) * 1000
    finally:
        # Closing stdin is how a client ends a stdio server; kill only if it will not go.
        try:
            child.stdin.close()
        except OSError:
            pass
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", help="the version --version must name")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command")

    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   - {name}")
        else:
            failed += 1
            print(f"FAIL - {name}")
            for line in detail.strip().splitlines()[-15:]:
                print(f"       | {line}")

    with tempfile.TemporaryDirectory(prefix="easel-release-smoke-") as tmp:
        # A clean user: its own home, data and output folders, nothing from this machine's
        # configuration (the demo is offline against the built-in simulator).
        env = dict(os.environ)
        for key in list(env):
            if key.startswith(("EASEL_", "MODELSCOPE_", "COMFYUI_")):
                del env[key]
        # An empty configuration file of its own: nothing from the machine's config folder.
        config = os.path.join(tmp, "easel.toml")
        open(config, "w").close()
        env.update(
            EASEL_DATA_DIR=os.path.join(tmp, "data"),
            EASEL_OUTPUT_DIR=os.path.join(tmp, "out-serve"),
            EASEL_CONFIG=config,
            EASEL_LOG="warn",
        )

        try:
            code, out = run(cmd + ["--version"], args.timeout, env)
            want = f" {args.version}" if args.version else ""
            check(
                f"{' '.join(cmd)} --version{' names ' + args.version if want else ''}",
                code == 0 and (not want or want in out),
                out,
            )
        except subprocess.TimeoutExpired:
            check("--version", False, f"no exit within {args.timeout} s")

        demo_out = os.path.join(tmp, "out-demo")
        try:
            code, out = run(cmd + ["demo", "--count", "1", "--out", demo_out], args.timeout, env)
            saved = images_under(demo_out)
            check("demo exits 0", code == 0, out)
            check(f"demo saved an image ({len(saved)} found)", bool(saved), out)
        except subprocess.TimeoutExpired:
            check("demo", False, f"no exit within {args.timeout} s")

        try:
            names, ms = mcp_tools(cmd + ["serve"], args.timeout, env)
            check(
                f"MCP initialize + tools/list over stdio ({len(names)} tools, {ms:.0f} ms)",
                "generate_image" in names,
                f"tools: {names}",
            )
        except Exception as e:  # counted, not raised: the summary line must still print
            check("MCP initialize + tools/list over stdio", False, f"{type(e).__name__}: {e}")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
