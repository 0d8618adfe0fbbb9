"""Shared fixtures of the browser tests: a headless Chromium, a folder for screenshots, the
simulators and easel itself.

The driver is Debian's chromedriver, named explicitly: Selenium would otherwise try to
download one (Selenium Manager), and nothing may be downloaded at test time.

easel runs as users run it, `easel serve --http 127.0.0.1:0`, on a temp data dir and output
root, against easel-sim's ModelScope (fast) and ComfyUI (one sampler step every STEP_MS, so a
running job's progress can be watched) simulators. Jobs are made through easel's real MCP
endpoint (a small Streamable HTTP client below), so their progress reaches the page through
the same state changes that feed MCP progress.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

EASEL_BIN = os.environ.get("EASEL_BIN", "target/debug/easel")
SIM_BIN = os.environ.get("EASEL_SIM_BIN", "target/debug/easel-sim")
# Per sampler step of the ComfyUI simulator: 40 steps take 4 s, long enough for a browser to
# see several progress events, short enough for CI. easel takes at most 100 steps, so jobs that
# must still be running after a sign-in and an attack use a second, slower simulator (100 s).
STEP_MS = 100
SLOW_STEP_MS = 1000
TOKEN = "browser-" + os.urandom(12).hex()


@pytest.fixture(scope="session")
def artifacts() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("EASEL_BROWSER_ARTIFACTS", "target/browser-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_browser(width: int = 1280, height: int = 900) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(arg)
    # Console messages (CSP violations, script errors) are read by the tests.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture
def browser():
    driver = make_browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def phone():
    """A 375 px wide browser, as on a phone (device metrics, so the page sees a 375 px viewport)."""
    driver = make_browser(375, 812)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    try:
        yield driver
    finally:
        driver.quit()


# --------------------------------------------------------------------------- processes


class Proc:
    """A child process that announces its address as one line `<prefix> <url>` on stdout."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], prefix: str, log: pathlib.Path):
        self.name = name
        self.log = log
        self.log_file = open(log, "wb")
        self.p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=self.log_file)
        assert self.p.stdout is not None
        line = self.p.stdout.readline().decode().strip()
        if not line.startswith(prefix + " "):
            self.stop()
            raise RuntimeError(f"{name} did not start (got {line!r}); log {log}:\n{log.read_text()[-3000:]}")
        self.url = line[len(prefix) + 1:]

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log_file.close()


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("EASEL_", "MODELSCOPE_", "COMFYUI_", "OPENAI_", "XHS_"))}


@pytest.fixture(scope="session")
def sims() -> Iterator[dict[str, str]]:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="easel-browser-sims-"))
    procs: list[Proc] = []
    try:
        procs.append(Proc("modelscope", [SIM_BIN, "modelscope", "--addr", "127.0.0.1:0"], clean_env(),
                          "modelscope", tmp / "modelscope.log"))
        for name, step in (("comfyui", STEP_MS), ("comfyui-slow", SLOW_STEP_MS)):
            procs.append(Proc(name, [SIM_BIN, "comfyui", "--addr", "127.0.0.1:0", "--step-latency-ms", str(step)],
                              clean_env(), "comfyui", tmp / f"{name}.log"))
        yield {p.name: p.url for p in procs}
    finally:
        for p in procs:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class HttpError(Exception):
    def __init__(self, status: int, body: str, headers: Any):
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body
        self.headers = headers


class Easel:
    """One `easel serve --http` with its own data dir and output root."""

    def __init__(self, sims: dict[str, str], token: str | None, artifacts: pathlib.Path, name: str,
                 slow_comfyui: bool = False):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="easel-browser-"))
        self.out = self.dir / "out"
        self.data = self.dir / "data"
        self.token = token
        (self.dir / "easel.toml").write_text("")
        (self.dir / "workflows").mkdir()
        env = clean_env()
        env.update({
            "EASEL_OUTPUT_DIR": str(self.out),
            "EASEL_DATA_DIR": str(self.data),
            "EASEL_CONFIG": str(self.dir / "easel.toml"),
            "EASEL_WORKFLOWS_DIR": str(self.dir / "workflows"),
            "MODELSCOPE_BASE_URL": sims["modelscope"],
            "MODELSCOPE_SDK_TOKEN": "ms-browser-dummy",
            "EASEL_MODELSCOPE_POLL_INITIAL_MS": "20",
            "EASEL_MODELSCOPE_POLL_MAX_MS": "50",
            "COMFYUI_URL": sims["comfyui-slow" if slow_comfyui else "comfyui"],
            "EASEL_COMFYUI_POLL_MS": "50",
            "EASEL_CONFIRM": "false",
            "EASEL_LOG": "easel=info",
        })
        if token:
            env["EASEL_HTTP_TOKEN"] = token
        self.env = env
        self.log = artifacts / f"easel-{name}.log"
        self.proc = Proc("easel", [EASEL_BIN, "serve", "--http", "127.0.0.1:0"], env, "easel", self.log)
        self.url = self.proc.url
        self.restarts = 0
        self.session_id: str | None = None
        self.rpc_id = 0

    def stop(self) -> None:
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        """Starts easel again on the same address, data dir and output root (after proc.stop())."""
        self.restarts += 1
        log = self.log.with_name(f"{self.log.stem}-restart{self.restarts}.log")
        addr = self.url.removeprefix("http://")
        self.proc = Proc("easel", [EASEL_BIN, "serve", "--http", addr], self.env, "easel", log)
        assert self.proc.url == self.url, (self.proc.url, self.url)

    def cli(self, *args: str) -> str:
        """Runs the easel command line on the same store and output root; returns its stdout."""
        done = subprocess.run([EASEL_BIN, *args], env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        return done.stdout.decode()

    # ------------------------------------------------------------------ plain HTTP

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                auth: bool = True) -> tuple[int, dict[str, str], bytes]:
        h = dict(headers or {})
        if auth and self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def api(self, path: str) -> Any:
        status, headers, body = self.request("GET", path)
        if status != 200:
            raise HttpError(status, body.decode(errors="replace"), headers)
        return json.loads(body)

    def jobs(self, query: str = "") -> list[dict[str, Any]]:
        return self.api("/gallery/api/jobs" + (f"?{query}" if query else ""))["jobs"]

    # ------------------------------------------------------------------ MCP (Streamable HTTP)

    def _rpc(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-06-18"}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        status, resp_headers, body = self.request("POST", "/mcp", json.dumps(payload).encode(), headers)
        if status >= 300:
            raise HttpError(status, body.decode(errors="replace"), resp_headers)
        sid = {k.lower(): v for k, v in resp_headers.items()}.get("mcp-session-id")
        if sid:
            self.session_id = sid
        if "id" not in payload:
            return None
        text = body.decode()
        if text.lstrip().startswith("{"):
            return json.loads(text)
        # An SSE answer: the response is the data line that carries our id (progress
        # notifications may come first).
        for line in text.splitlines():
            if line.startswith("data:"):
                msg = json.loads(line[5:].strip() or "null")
                if isinstance(msg, dict) and msg.get("id") == payload["id"]:
                    return msg
        raise AssertionError(f"no answer to {payload['method']} in {text[:2000]!r}")

    def mcp(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Calls a tool; returns its structuredContent (fails the test on a tool error)."""
        if self.session_id is None:
            self.rpc_id += 1
            self._rpc({"jsonrpc": "2.0", "id": self.rpc_id, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "easel-browser-tests", "version": "1"}}})
            self._rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.rpc_id += 1
        answer = self._rpc({"jsonrpc": "2.0", "id": self.rpc_id, "method": "tools/call",
                            "params": {"name": tool, "arguments": arguments}})
        assert answer is not None and "result" in answer, answer
        result = answer["result"]
        assert not result.get("isError"), result
        return result.get("structuredContent") or {}

    def generate(self, prompt: str, **args: Any) -> dict[str, Any]:
        """generate_image on the fast ModelScope simulator by default; waits unless wait_seconds says otherwise."""
        args.setdefault("size", "256x256")
        args.setdefault("preview", "none")
        return self.mcp("generate_image", {"prompt": prompt, **args})

    def generate_slow(self, prompt: str, steps: int = 40, **args: Any) -> dict[str, Any]:
        """A ComfyUI job of `steps` sampler steps (1-100, STEP_MS or SLOW_STEP_MS each), returned as soon as it is submitted."""
        args.setdefault("size", "128x128")
        return self.generate(prompt, backend="comfyui", steps=steps, wait_seconds=0, **args)


@pytest.fixture
def start_easel(sims, artifacts, request) -> Iterator[Any]:
    """Starts easel (optionally with a token); every one started is stopped after the test."""
    started: list[Easel] = []

    def start(token: str | None = None, slow_comfyui: bool = False) -> Easel:
        name = request.node.name + (f"-{len(started)}" if started else "")
        e = Easel(sims, token, artifacts, name, slow_comfyui)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()
    # The ComfyUI simulator is shared: a slow job left behind would hold its queue for the next test.
    for sim in ("comfyui", "comfyui-slow"):
        for route, body in (("/queue", b'{"clear": true}'), ("/interrupt", b"{}")):
            req = urllib.request.Request(sims[sim] + route, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()


@pytest.fixture
def easel(start_easel) -> Easel:
    """easel without a token (loopback only)."""
    return start_easel()


@pytest.fixture
def easel_token(start_easel) -> Easel:
    """easel with EASEL_HTTP_TOKEN: the browser must sign in."""
    return start_easel(TOKEN)
