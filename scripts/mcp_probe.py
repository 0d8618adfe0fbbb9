#!/usr/bin/env python3
"""Starts an MCP server command over stdio, sends initialize + notifications/initialized +
tools/list (newline-delimited JSON-RPC, as the MCP stdio transport says), and prints one JSON
line: {"ok", "tools", "ms", "rss_kb", "procs", "error"}.

ms is wall time from spawn to the tools/list answer (the cold start a client sees). rss_kb and
procs describe the process tree alive at that moment (the command and all its descendants):
what stays resident between the MCP client and easel for the server's life.

Only the standard library, so it runs anywhere python3 does. Every wait is bounded.

    mcp_probe.py [--timeout S] [--runs N] -- COMMAND ARG...
With --runs N it starts the command N times and reports the median ms (and the last tree).
"""

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time


def descendants(pid):
    """pid and every process below it, from /proc (Linux)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the ppid follows the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def tree_rss(pid):
    total, procs = 0, []
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        total += rss
        procs.append({"pid": p, "name": fields["Name"].strip(), "rss_kb": rss})
    return total, procs


def probe(cmd, timeout):
    started = time.monotonic()
    child = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    deadline = started + timeout
    buf = b""

    def send(msg):
        child.stdin.write((json.dumps(msg) + "\n").encode())
        child.stdin.flush()

    def answer(want_id):
        nonlocal buf
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                msg = json.loads(line)
                if msg.get("id") == want_id:
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to request {want_id} within {timeout} s")
            ready, _, _ = select.select([child.stdout], [], [], left)
            if ready:
                chunk = os.read(child.stdout.fileno(), 65536)
                if not chunk:
                    raise EOFError(f"the server closed stdout (exit {child.poll()})")
                buf += chunk

    result = {"ok": False, "tools": 0, "ms": None, "rss_kb": None, "procs": [], "error": None}
    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "easel-smoke", "version": "0"}}})
        init = answer(1)
        if "result" not in init:
            raise RuntimeError(f"initialize failed: {init}")
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = answer(2)
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        result["tools"] = len(tools.get("result", {}).get("tools", []))
        result["rss_kb"], result["procs"] = tree_rss(child.pid)
        result["ok"] = result["tools"] > 0
        if not result["ok"]:
            result["error"] = f"tools/list gave no tools: {tools}"
    except Exception as e:  # reported, not raised: the caller counts a failure
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        # Closing stdin is how a client ends a stdio server; kill only if it will not go.
        try:
            child.stdin.close()
        except OSError:
            pass
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            for p in reversed(descendants(child.pid)):
                try:
                    os.kill(p, 9)
                except OSError:
                    pass
            child.wait(timeout=5)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command")
    runs = [probe(cmd, args.timeout) for _ in range(args.runs)]
    last = runs[-1]
    bad = [r for r in runs if not r["ok"]]
    out = dict(last)
    if bad:
        out = dict(bad[0])
    else:
        out["ms"] = statistics.median(r["ms"] for r in runs)
        out["all_ms"] = [r["ms"] for r in runs]
    print(json.dumps(out))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
