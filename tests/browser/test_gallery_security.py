"""The gallery's safety in a real browser (issue 15): signing in with the token, CSRF from
another site, and images only from inside the output root, whatever the URL says."""

from __future__ import annotations

import hashlib
import http.client
import http.server
import os
import threading
import urllib.parse
from typing import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import TOKEN, Easel
from pagekit import card, card_status, cards, images_loaded, open_gallery, png, shot, wait


def sign_in(browser, easel: Easel, token: str) -> None:
    browser.get(easel.url + "/")
    wait(browser, lambda d: d.current_url.startswith(easel.url + "/gallery/login"), "/ to send us to the sign-in page")
    field = browser.find_element(By.NAME, "token")
    assert field.get_attribute("type") == "password"
    field.send_keys(token)
    field.send_keys(Keys.ENTER)


def test_sign_in_with_the_token(browser, easel_token, artifacts):
    easel = easel_token
    job = easel.generate("a signed-in sunflower")

    # The API without a session is refused; the page sends the browser to the sign-in form.
    status, _, body = easel.request("GET", "/gallery/api/jobs", auth=False)
    assert status == 401 and b"error" in body, (status, body)

    sign_in(browser, easel, "wrong-" + TOKEN)
    wait(browser, lambda d: "/gallery/login" in d.current_url and d.find_elements(By.NAME, "token"),
         "the sign-in form again after a wrong token")
    assert browser.get_cookie("easel_session") is None, "a wrong token got a session"
    shot(browser, artifacts, "gallery-login-refused")

    sign_in(browser, easel, TOKEN)
    wait(browser, lambda d: d.current_url.rstrip("/") == easel.url, "the gallery after signing in")
    wait(browser, lambda d: card_status(d, job["job_id"]) == "succeeded", "the job's card")
    wait(browser, lambda d: images_loaded(d, "#grid"), "the thumbnails (the cookie opens /gallery/thumb)")
    shot(browser, artifacts, "gallery-signed-in")

    cookie = browser.get_cookie("easel_session")
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict", cookie
    assert TOKEN not in cookie["value"], "the cookie carries the token itself"
    assert TOKEN not in browser.page_source
    assert TOKEN not in browser.current_url
    urls = browser.execute_script("return [location.href, ...performance.getEntries().map(e => e.name)]")
    assert not [u for u in urls if TOKEN in u], urls
    assert TOKEN not in browser.execute_script("return document.cookie")

    # Signing out ends the session: / asks for the token again.
    browser.find_element(By.CSS_SELECTOR, '[data-action="signout"]').click()
    wait(browser, lambda d: "/gallery/login" in d.current_url and d.find_elements(By.NAME, "token"), "the sign-in form after signing out")
    assert browser.get_cookie("easel_session") is None
    browser.get(easel.url + "/")
    wait(browser, lambda d: "/gallery/login" in d.current_url, "/ to ask for the token again")

    sign_in(browser, easel, TOKEN)
    wait(browser, lambda d: d.current_url.rstrip("/") == easel.url, "the gallery after signing in again")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#live.on"), "the page running")
    # A forged cookie is no session: the page's next API call (a filter) goes back to sign-in.
    browser.delete_all_cookies()
    browser.add_cookie({"name": "easel_session", "value": "forged" + "0" * 40, "path": "/"})
    browser.find_element(By.CSS_SELECTOR, "select[name=status] option[value=succeeded]").click()
    wait(browser, lambda d: "/gallery/login" in d.current_url, "a 401 to send the page to /gallery/login")

    easel.proc.stop()
    assert TOKEN not in easel.log.read_text(), "the token is in easel's log"


ATTACK = """<!doctype html><meta charset=utf-8><title>attacker</title>
<pre id=log></pre>
<form id=form method=POST enctype=text/plain action="{easel}/gallery/api/jobs/{job}/again">
<input name='{{"variation":false,"x":"' value='"}}'></form>
<script>
const log = (s) => document.getElementById('log').textContent += s + '\\n';
(async () => {{
  const targets = ['/gallery/api/jobs/{job}/cancel', '/gallery/api/jobs/{job}/again', '/gallery/api/publish'];
  for (const t of targets) {{
    try {{
      const r = await fetch('{easel}' + t, {{method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: {{'Content-Type': 'text/plain'}}, body: '{{"variation":true,"confirm":true}}'}});
      log('no-cors ' + t + ' ' + r.type);
    }} catch (e) {{ log('no-cors ' + t + ' failed ' + e); }}
    try {{
      const r = await fetch('{easel}' + t, {{method: 'POST', credentials: 'include',
        headers: {{'Content-Type': 'application/json', 'X-Easel-CSRF': 'guessed'}}, body: '{{}}'}});
      log('cors ' + t + ' status ' + r.status);
    }} catch (e) {{ log('cors ' + t + ' failed ' + e); }}
  }}
  log('fetches done');
  // The log goes home before the form navigates away (the test reads it from this server).
  await fetch('/log', {{method: 'POST', body: document.getElementById('log').textContent}});
  document.getElementById('form').submit();
}})();
</script>"""


@pytest.fixture
def attacker() -> Iterator[dict]:
    """An HTTP server on another port: another origin than easel's (and, as `localhost`, another site)."""
    pages: dict[str, str] = {}
    logs: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            logs.append(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            self.send_response(204)
            self.end_headers()

        def do_GET(self):  # noqa: N802 - http.server's naming
            body = pages.get(self.path, "not found").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"pages": pages, "logs": logs, "port": server.server_address[1]}
    finally:
        server.shutdown()
        server.server_close()


# As `localhost` the attacker is another site: SameSite=Strict keeps the cookie away. As
# 127.0.0.1 on another port it is the same site, so the cookie goes along and only the
# Origin and CSRF checks stand between the attacker and the job.
@pytest.mark.parametrize("with_token,attacker_host", [(False, "localhost"), (True, "localhost"), (True, "127.0.0.1")],
                         ids=["loopback-no-token", "token-cross-site", "token-same-site-other-port"])
def test_cross_site_post_is_refused(browser, start_easel, attacker, artifacts, with_token, attacker_host):
    easel = start_easel(TOKEN if with_token else None, slow_comfyui=True)
    job = easel.generate_slow("a job the attacker wants cancelled", steps=100)  # 100 s
    if with_token:
        sign_in(browser, easel, TOKEN)
        wait(browser, lambda d: d.current_url.rstrip("/") == easel.url, "signed in")
    open_gallery(browser, easel.url)
    wait(browser, lambda d: card_status(d, job["job_id"]) == "running", "the job running")
    before = [j["id"] for j in easel.jobs()]

    attacker["pages"]["/attack.html"] = ATTACK.format(easel=easel.url, job=job["job_id"])
    browser.get(f"http://{attacker_host}:{attacker['port']}/attack.html")
    # The page fetches, then submits its form: the top window ends on easel's answer.
    wait(browser, lambda d: d.current_url.startswith(easel.url + "/gallery/api/jobs/"), "the forged form's answer")
    answer = browser.find_element(By.TAG_NAME, "body").text
    shot(browser, artifacts, f"gallery-csrf-refused-{'token' if with_token else 'loopback'}-{attacker_host}")
    assert "error" in answer, answer
    log = wait(browser, lambda d: attacker["logs"] and attacker["logs"][0], "the attacker's log")
    assert "fetches done" in log, log
    assert " status 2" not in log, f"a cross-site fetch was answered:\n{log}"

    state = easel.api(f"/gallery/api/jobs/{job['job_id']}")
    assert state["status"] == "running", f"the attacker changed the job: {state['status']}"
    assert [j["id"] for j in easel.jobs()] == before, "the attacker started a job"
    drafts = easel.out / "drafts"
    assert not drafts.exists() or not any(drafts.iterdir()), "the attacker published"


def _fetch_in_page(browser, path: str) -> list:
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done([r.status, b.byteLength,"
        "  [...new Uint8Array(b.slice(0, 64))]]))).catch(e => done([0, 0, String(e)]))", path)


def test_no_image_outside_the_root(browser, easel, artifacts):
    kept = easel.generate("an image that stays", seed=1)
    swapped = easel.generate("an image swapped for a symlink", seed=2)
    secret = png(77, 33, (200, 0, 0))
    secret_path = easel.dir / "secret.png"  # beside the output root, not in it
    secret_path.write_bytes(secret)
    (easel.out / "evil.png").symlink_to(secret_path)
    (easel.out / "sub").mkdir()
    (easel.out / "sub" / "evil.png").symlink_to(secret_path)
    # A saved file swapped for a symlink out of the root after easel checked and saved it.
    swapped_file = swapped["files"][0]["path"]
    os.remove(swapped_file)
    os.symlink(secret_path, swapped_file)

    k = kept["job_id"]
    s = swapped["job_id"]
    probes = [
        f"/gallery/img/{s}/0", f"/gallery/thumb/{s}/0",
        "/gallery/img/../secret.png", "/gallery/img/../../secret.png/0",
        "/gallery/img/..%2f..%2fsecret.png/0", "/gallery/img/%2e%2e%2f%2e%2e%2fsecret.png/0",
        f"/gallery/img/{k}/..%2f..%2f..%2fsecret.png", f"/gallery/img/{k}%2f..%2f..%2f..%2fsecret.png/0",
        f"/gallery/img/{k}/0%2f..%2f..%2f..%2fsecret.png", "/gallery/img/..%5c..%5csecret.png/0",
        f"/gallery/thumb/{k}/..%2f..%2f..%2fsecret.png", "/gallery/thumb/..%2fsecret.png/0",
        "/gallery/img/evil.png/0", "/gallery/img/evil/0", "/gallery/img/sub%2fevil.png/0",
        f"/gallery/img/{k}/-1", f"/gallery/img/{k}/99", f"/gallery/img/{k}/0x0", f"/gallery/img/{k}/%30",
        "/secret.png", "/evil.png", "/out/evil.png", "/gallery/evil.png", "/gallery/%2e%2e/secret.png",
        "/gallery/app.js/..%2f..%2fsecret.png", f"/gallery/img/{k}/0/..%2f..%2f..%2f..%2fsecret.png",
    ]
    open_gallery(browser, easel.url)
    wait(browser, lambda d: len(cards(d)) == 2, "the two cards")
    digest = hashlib.sha256(secret).hexdigest()

    # A real image is served, with the promised headers.
    status, headers, body = easel.request("GET", f"/gallery/img/{k}/0")
    headers = {key.lower(): v for key, v in headers.items()}
    assert status == 200 and body == open(kept["files"][0]["path"], "rb").read()
    assert "immutable" in headers.get("cache-control", "") and headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("content-type", "").startswith("image/"), headers
    ok = _fetch_in_page(browser, f"/gallery/img/{k}/0")
    assert ok[0] == 200 and ok[1] == len(body)

    leaks = []
    for path in probes:
        # fetch() from the gallery's own origin (cookies and all)...
        got = _fetch_in_page(browser, path)
        if got[0] == 200 and got[1] == len(secret) and bytes(got[2]) == secret[:64]:
            leaks.append(f"fetch {path}")
        # ...a navigation of the browser to the URL...
        browser.get(easel.url + path)
        if browser.execute_script("const i = document.images[0]; return !!i && i.naturalWidth === 77 && i.naturalHeight === 33"):
            leaks.append(f"navigation {path}")
        # ...and the literal bytes, which browsers would normalise (`..` segments) before sending.
        host = urllib.parse.urlsplit(easel.url).netloc
        conn = http.client.HTTPConnection(host, timeout=30)
        conn.request("GET", path)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        if hashlib.sha256(raw).hexdigest() == digest:
            leaks.append(f"raw {path}")
        assert r.status != 200 or r.getheader("content-type", "").startswith(("image/", "text/html", "text/css", "text/javascript", "application/javascript")), (path, r.status)
    assert leaks == [], f"the secret outside the root was served: {leaks}"
    open_gallery(browser, easel.url)
    wait(browser, lambda d: card(d, k) is not None, "the gallery again")
    shot(browser, artifacts, "gallery-sandbox")
