#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (PyPI `mcp`) drives easel over stdio,
Streamable HTTP (sessions and stateless) and legacy HTTP+SSE, against the ModelScope
simulator.

In every scenario it initializes, lists tools (checking the schemas), calls generate_image
with a progress token (progress must arrive; the SDK validates structuredContent against the
output schema), reads the image back as the resource easel://jobs/{id}/images/0, compares it
with the file on disk, and checks that a path-traversal URI is refused. Over HTTP it also
checks that a request without the bearer token is refused.

Works with the SDK's 2.x API (`mcp.Client`, `mode="auto" | "legacy"`) and falls back to
the 1.x `ClientSession` API when that is what is installed.

Protocol versions covered (each scenario prints the one it negotiated): with SDK 2.x,
`auto` negotiates 2026-07-28 (server/discover; stateless over HTTP) and `legacy` and the
SSE scenario negotiate 2025-11-25 (initialize); with 1.x, every scenario negotiates that
SDK's newest version (EASEL_INTEROP_MCP="mcp==1.9.4 pydantic<2.11" gives a 2025-03-26
client, which gets resource links as text). 2024-11-05 and what each version receives are covered by the
Rust matrix in crates/easel/tests/http/versions.rs.

Usage: interop.py --easel target/debug/easel --sim target/debug/easel-sim
Exits non-zero on any failure and prints a summary either way.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import mcp

SDK_VERSION = importlib.metadata.version("mcp")
SDK2 = hasattr(mcp, "Client")
TOKEN = "interop-" + os.urandom(12).hex()
SCENARIO_TIMEOUT = 120.0


def attr(obj: Any, snake: str) -> Any:
    """Field access across SDK majors: 2.x uses snake_case, 1.x camelCase for some fields."""
    if hasattr(obj, snake):
        return getattr(obj, snake)
    head, *rest = snake.split("_")
    return getattr(obj, head + "".join(p.capitalize() for p in rest))


# --------------------------------------------------------------------------- processes


class Proc:
    """A child process that announces its address as one line on stdout."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], prefix: str, log: Path):
        self.name = name
        self.log = log
        self.log_file = open(log, "wb")
        self.p = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log_file
        )
        assert self.p.stdout is not None
        line = self.p.stdout.readline().decode().strip()
        if not line.startswith(prefix + " "):
            self.stop()
            raise RuntimeError(f"{name} did not start (got {line!r}); see {log}:\n{log.read_text()[-2000:]}")
        self.url = line[len(prefix) + 1 :]

    def stop(self) -> int | None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log_file.close()
        return self.p.returncode


def easel_env(base: dict[str, str], root: Path, name: str, sim_url: str) -> dict[str, str]:
    env = dict(base)
    env.update(
        {
            "EASEL_OUTPUT_DIR": str(root / name / "out"),
            "EASEL_DATA_DIR": str(root / name / "data"),
            "EASEL_CONFIG": str(root / "easel.toml"),
            "MODELSCOPE_BASE_URL": sim_url,
            "MODELSCOPE_SDK_TOKEN": "ms-interop-dummy",
            "EASEL_MODELSCOPE_POLL_INITIAL_MS": "20",
            "EASEL_MODELSCOPE_POLL_MAX_MS": "50",
            "EASEL_LOG": "easel=warn",
        }
    )
    return env


# --------------------------------------------------------------------------- connecting


@dataclass
class Target:
    name: str
    kind: str  # stdio | http | sse
    mode: str  # auto | legacy (2.x); ignored by 1.x, which always initializes
    out_dir: Path
    url: str = ""
    command: str = ""
    env: dict[str, str] = field(default_factory=dict)
    token: str | None = None


def headers_for(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@contextlib.asynccontextmanager
async def connect(t: Target, token: str | None) -> AsyncIterator[Any]:
    if SDK2:
        async with connect_v2(t, token) as c:
            yield c
    else:
        async with connect_v1(t, token) as c:
            yield c


@contextlib.asynccontextmanager
async def connect_v2(t: Target, token: str | None) -> AsyncIterator[Any]:
    from mcp import Client, StdioServerParameters

    if t.kind == "stdio":
        params = StdioServerParameters(command=t.command, args=["serve"], env=t.env)
        async with Client(params, mode=t.mode) as c:
            yield c
    elif t.kind == "http":
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers=headers_for(token), timeout=httpx2.Timeout(30.0, read=300.0))
        async with http:
            async with Client(streamable_http_client(t.url, http_client=http), mode=t.mode) as c:
                yield c
    else:
        from mcp.client.sse import sse_client

        async with Client(sse_client(t.url, headers=headers_for(token)), mode="legacy") as c:
            yield c


@contextlib.asynccontextmanager
async def connect_v1(t: Target, token: str | None) -> AsyncIterator[Any]:
    from mcp import ClientSession, StdioServerParameters

    if t.kind == "stdio":
        from mcp.client.stdio import stdio_client

        transport = stdio_client(StdioServerParameters(command=t.command, args=["serve"], env=t.env))
    elif t.kind == "http":
        from mcp.client.streamable_http import streamablehttp_client

        transport = streamablehttp_client(t.url, headers=headers_for(token))
    else:
        from mcp.client.sse import sse_client

        transport = sse_client(t.url, headers=headers_for(token))
    async with transport as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            session.easel_protocol_version = init.protocolVersion  # type: ignore[attr-defined]
            yield session


async def read_resource(client: Any, uri: str) -> Any:
    if SDK2:
        return await client.read_resource(uri)
    from pydantic import AnyUrl

    return await client.read_resource(AnyUrl(uri))


# --------------------------------------------------------------------------- the checks


class Failed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Failed(what)


async def exercise(t: Target) -> str:
    """One scenario; returns a one-line summary or raises."""
    async with connect(t, t.token) as client:
        version = client.protocol_version if SDK2 else client.easel_protocol_version
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        for name in ("generate_image", "get_job", "list_jobs", "cancel_job"):
            check(name in tools, f"tool {name} listed (got {sorted(tools)})")
        # outputSchema, structuredContent and resource_link arrived in 2025-06-18; an older
        # SDK's models do not have them (dates compare as strings).
        modern = version >= "2025-06-18"
        gen = tools["generate_image"]
        check("prompt" in attr(gen, "input_schema").get("properties", {}), "input schema has prompt")
        if modern:
            check(attr(gen, "output_schema") is not None, "generate_image has an output schema")

        progress: list[tuple[float, float | None, str | None]] = []

        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            progress.append((p, total, message))

        result = await client.call_tool(
            "generate_image",
            {"prompt": f"interop {t.name}", "size": "256x256", "seed": 7, "wait_seconds": 60},
            progress_callback=on_progress,
        )
        check(not attr(result, "is_error"), f"generate_image succeeded: {result.content!r:.300}")
        kinds = [c.type for c in result.content]
        for kind in ("text", "image", "resource_link") if modern else ("text", "image"):
            check(kind in kinds, f"content has {kind} (got {kinds})")
        # A client that predates structuredContent still receives it, as an extra field.
        out = attr(result, "structured_content")
        check(out is not None and out.get("status") == "succeeded", f"structured status succeeded: {out!r:.300}")
        check(len(progress) > 0, "progress notifications arrived")
        fractions = [p for p, _, _ in progress]
        check(fractions == sorted(fractions), f"progress never goes back: {fractions}")

        job_id = out["job_id"]
        uri = f"easel://jobs/{job_id}/images/0"
        check(out["files"][0]["uri"] == uri, f"file uri is {uri}")
        if not modern:
            texts = [c.text for c in result.content if c.type == "text"]
            check(any(uri in t for t in texts), f"the resource URI in text for {version} (got {texts!r:.300})")
        path = Path(out["files"][0]["path"])
        check(path.is_file(), f"{path} exists")
        check(path.resolve().is_relative_to(t.out_dir.resolve()), f"{path} is under {t.out_dir}")
        on_disk = path.read_bytes()

        read = await read_resource(client, uri)
        blob = read.contents[0]
        check(attr(blob, "mime_type") == "image/png", f"resource MIME image/png (got {attr(blob, 'mime_type')})")
        check(base64.b64decode(blob.blob) == on_disk, "resource bytes equal the file on disk")

        try:
            await read_resource(client, "easel://jobs/../../x/images/0")
        except Exception:
            pass
        else:
            raise Failed("a traversal URI was readable")

        files = sorted(p for p in t.out_dir.rglob("*") if p.is_file())
        return f"protocol {version}: {len(progress)} progress events, {len(on_disk)} bytes at {path.name}, {len(files)} file(s) on disk"


async def refused_without_token(t: Target) -> None:
    """The SDK client fails without the token, and the raw answer is a 401 with a challenge."""
    try:
        async with connect(t, None) as client:
            await client.list_tools()
    except BaseException as e:  # ExceptionGroup from anyio task groups, HTTP errors...
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
    else:
        raise Failed("a client without the token got in")
    import urllib.error
    import urllib.request

    if t.kind == "sse":
        request = urllib.request.Request(t.url)
    else:
        request = urllib.request.Request(
            t.url,
            data=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        )
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as e:
        check(e.code == 401, f"raw request without token answered 401 (got {e.code})")
        check(e.headers.get("WWW-Authenticate", "").startswith("Bearer"), "401 carries WWW-Authenticate: Bearer")
        return
    raise Failed("a raw request without the token was answered")


async def run_scenario(t: Target, also_unauthorized: bool) -> tuple[bool, str]:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(exercise(t), SCENARIO_TIMEOUT)
        if also_unauthorized:
            await asyncio.wait_for(refused_without_token(t), SCENARIO_TIMEOUT)
            detail += "; no token -> 401"
        return True, f"{detail} ({time.monotonic() - started:.1f}s)"
    except BaseException as e:  # noqa: BLE001 - every failure is reported, none aborts the run
        if isinstance(e, KeyboardInterrupt):
            raise
        return False, "".join(traceback.format_exception(e))[-3000:]


# --------------------------------------------------------------------------- main


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--easel", required=True, help="path to the easel binary")
    ap.add_argument("--sim", required=True, help="path to the easel-sim binary")
    args = ap.parse_args()
    easel = str(Path(args.easel).resolve())
    sim_bin = str(Path(args.sim).resolve())

    print(f"== interop: Python MCP SDK {SDK_VERSION} ({'2.x Client' if SDK2 else '1.x ClientSession'} API)")
    results: list[tuple[str, bool, str]] = []
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="easel-interop-") as tmp:
        root = Path(tmp)
        (root / "easel.toml").write_text("")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "MODELSCOPE_"))}
        try:
            sim = Proc("simulator", [sim_bin, "modelscope", "--addr", "127.0.0.1:0"], base_env, "modelscope", root / "sim.log")
            procs.append(sim)
            print(f"   simulator at {sim.url}")

            def http_server(name: str, extra: list[str]) -> tuple[Proc, dict[str, str]]:
                env = easel_env(base_env, root, name, sim.url)
                env["EASEL_HTTP_TOKEN"] = TOKEN
                p = Proc(name, [easel, "serve", "--http", "127.0.0.1:0", *extra], env, "easel", root / f"{name}.log")
                procs.append(p)
                print(f"   easel {name} at {p.url}")
                return p, env

            stateful, _ = http_server("http", [])
            stateless, _ = http_server("http-stateless", ["--stateless"])

            modes = ["auto", "legacy"] if SDK2 else ["initialize"]
            targets: list[tuple[Target, bool]] = []
            for mode in modes:
                name = f"stdio-{mode}"
                env = easel_env(base_env, root, name, sim.url)
                targets.append((Target(name, "stdio", mode, root / name / "out", command=easel, env=env), False))
            for mode in modes:
                targets.append(
                    (Target(f"http-{mode}", "http", mode, root / "http" / "out", url=f"{stateful.url}/mcp", token=TOKEN), mode == modes[0])
                )
            for mode in modes:
                targets.append(
                    (
                        Target(
                            f"http-stateless-{mode}",
                            "http",
                            mode,
                            root / "http-stateless" / "out",
                            url=f"{stateless.url}/mcp",
                            token=TOKEN,
                        ),
                        False,
                    )
                )
            targets.append((Target("sse-legacy", "sse", "legacy", root / "http" / "out", url=f"{stateful.url}/sse", token=TOKEN), True))

            for target, unauthorized in targets:
                ok, detail = await run_scenario(target, unauthorized)
                results.append((target.name, ok, detail))
                print(f"   {'ok  ' if ok else 'FAIL'} {target.name}: {detail.splitlines()[0] if ok else ''}")
                if not ok:
                    print("     " + detail.replace("\n", "\n     "))
        except Exception as e:  # start-up failures
            results.append(("start-up", False, "".join(traceback.format_exception(e))))
            print(f"   FAIL start-up: {e}")
        finally:
            for p in reversed(procs):
                code = p.stop()
                if p.name.startswith("http") and code not in (0, None):
                    results.append((f"{p.name} shutdown", False, f"exit code {code} after SIGTERM; log:\n{p.log.read_text()[-2000:]}"))
                    print(f"   FAIL {p.name} exited {code} after SIGTERM")
            logs = {p.name: p.log.read_text() for p in procs}
        for name, text in logs.items():
            if TOKEN in text:
                results.append((f"{name} log", False, "the bearer token appears in the log"))
                print(f"   FAIL {name}: the bearer token appears in its log")

    failed = [r for r in results if not r[1]]
    print(f"== interop summary: {len(results) - len(failed)} passed, {len(failed)} failed (Python MCP SDK {SDK_VERSION})")
    for name, ok, _ in results:
        print(f"   {'PASS' if ok else 'FAIL'}  {name}")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
