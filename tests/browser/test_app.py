"""easel's MCP App view in a real browser: the view's HTML (as easel serves it at
ui://easel/job-view) inside tests/browser/app_host.html, a minimal MCP Apps host that speaks
the postMessage JSON-RPC of the spec (2026-01-26) and feeds the view results recorded from
real easel calls against the simulator (tests/browser/app_fixture.json, re-recorded with
`EASEL_BLESS=1 cargo test -p easel --test tests mcp_app::`).

Each test waits for a condition in the page (never a fixed sleep) and saves a screenshot.
"""

import copy
import json
import pathlib

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]
VIEW = ROOT / "crates/easel/src/service/app/assets/view.html"
HOST = pathlib.Path(__file__).resolve().parent / "app_host.html"
FIXTURE = json.loads((pathlib.Path(__file__).resolve().parent / "app_fixture.json").read_text())
WAIT = 10


@pytest.fixture
def app(browser):
    """Opens the test host; `start(call, answers)` loads the view and sends it `call`."""
    browser.get(HOST.as_uri())
    html = VIEW.read_text()

    def start(call, answers=None, context=None):
        browser.execute_script(
            "hostStart(arguments[0], arguments[1], arguments[2], arguments[3]);",
            html, call, answers or {}, context,
        )
        until(browser, lambda d: d.execute_script("return window.host.initialized"))

    return start


def until(browser, condition, message=""):
    return WebDriverWait(browser, WAIT).until(condition, message)


def in_view(browser, fn):
    """Runs `fn(driver)` inside the view's iframe."""
    browser.switch_to.frame(browser.find_element(By.ID, "view"))
    try:
        return fn(browser)
    finally:
        browser.switch_to.default_content()


def until_in_view(browser, condition, message=""):
    def check(d):
        return in_view(d, condition)

    return until(browser, check, message)


def calls(browser, name):
    return browser.execute_script("return hostCalls(arguments[0]);", name)


def click(browser, selector):
    in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, selector).click())


def job_id(name):
    return FIXTURE[name]["result"]["structuredContent"]["job_id"]


def sizes(d):
    """The frame's inner height and the view's content height."""
    return in_view(
        d, lambda v: v.execute_script(
            "return [window.innerHeight, document.body.getBoundingClientRect().height];"
        )
    )


def shot(browser, artifacts, name):
    """A screenshot once the frame fits its content (so it shows what a host would)."""
    try:
        until(browser, lambda d: abs(sizes(d)[0] - sizes(d)[1]) <= 1)
    except Exception as e:
        sent = [m for m in browser.execute_script("return window.host.sent;") if "size" in m.get("method", "")]
        raise AssertionError(f"the host did not fit the frame to the view: {sizes(browser)}; sent {sent}") from e
    path = artifacts / f"app-{name}.png"
    browser.save_screenshot(str(path))
    return path


def test_app_handshake_and_images(browser, app, artifacts):
    app(FIXTURE["succeeded"])
    card = f'[data-job-id="{job_id("succeeded")}"]'
    loaded = until_in_view(
        browser,
        lambda d: d.execute_script(
            "var imgs = document.querySelectorAll(arguments[0] + ' img');"
            "return imgs.length === 2 && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0);",
            card,
        ),
        "the two recorded previews render",
    )
    assert loaded
    status = in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, card).get_attribute("data-status"))
    assert status == "succeeded"
    sent = browser.execute_script("return window.host.sent;")
    assert sent[0]["method"] == "ui/initialize"
    assert sent[0]["params"]["protocolVersion"] == "2026-01-26"
    assert sent[1]["method"] == "ui/notifications/initialized"
    until(
        browser,
        lambda d: any(m.get("method") == "ui/notifications/size-changed" for m in d.execute_script("return window.host.sent;")),
        "the view reports its size",
    )
    # A finished job is not polled.
    assert calls(browser, "get_job") == []
    shot(browser, artifacts, "succeeded")


def test_app_shows_progress_and_follows_a_running_job(browser, app, artifacts):
    app(FIXTURE["running"], {"get_job": {"hold": True}})
    jid = job_id("running")
    card = f'[data-job-id="{jid}"]'
    until_in_view(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, card + " .progress").get_attribute("aria-valuenow") == "5",
        "the recorded progress (5 %) shows",
    )
    message = in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, card + " .message").text)
    assert "PROCESSING" in message
    until(browser, lambda d: calls(d, "get_job"), "the view polls get_job")
    assert calls(browser, "get_job")[0] == {"job_id": jid, "wait_seconds": 20, "preview": "thumbnail"}
    shot(browser, artifacts, "running")
    # The job's next state (recorded: that job, cancelled) replaces the progress.
    assert browser.execute_script("return hostRelease('get_job', arguments[0]);", FIXTURE["cancelled"]["result"]) == 1
    until_in_view(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, card).get_attribute("data-status") == "cancelled",
    )
    assert in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, card + " .progress")) == []
    assert len(calls(browser, "get_job")) == 1, "a finished job is not polled again"


def test_app_cancel_calls_cancel_job(browser, app, artifacts):
    app(FIXTURE["running"], {"get_job": {"hold": True}, "cancel_job": {"result": FIXTURE["cancelled"]["result"]}})
    jid = job_id("running")
    card = f'[data-job-id="{jid}"]'
    until_in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, card + ' [data-action="cancel"]'))
    click(browser, card + ' [data-action="cancel"]')
    until(browser, lambda d: calls(d, "cancel_job"))
    assert calls(browser, "cancel_job") == [{"job_id": jid}]
    until_in_view(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, card).get_attribute("data-status") == "cancelled",
    )
    message = in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, card + " .error").text)
    assert "cancelled" in message
    shot(browser, artifacts, "cancelled")


def test_app_variation_calls_run_again_and_follows_the_new_job(browser, app, artifacts):
    app(
        FIXTURE["succeeded"],
        {
            "run_again": {"result": FIXTURE["variation_started"]["result"]},
            "get_job": {"hold": True},
        },
    )
    first = job_id("succeeded")
    click(browser, f'[data-job-id="{first}"] [data-action="variation"]')
    until(browser, lambda d: calls(d, "run_again"))
    assert calls(browser, "run_again") == [
        {"job_id": first, "variation": True, "wait_seconds": 0, "preview": "thumbnail"}
    ]
    new = job_id("variation_started")
    new_card = f'[data-job-id="{new}"]'
    until_in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, new_card + " .progress"))
    until(browser, lambda d: calls(d, "get_job"))
    assert calls(browser, "get_job")[0]["job_id"] == new
    browser.execute_script("return hostRelease('get_job', arguments[0]);", FIXTURE["variation"]["result"])
    until_in_view(
        browser,
        lambda d: d.execute_script(
            "var imgs = document.querySelectorAll(arguments[0] + ' img');"
            "return imgs.length === 2 && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0);",
            new_card,
        ),
        "the variation's images replace its progress",
    )
    # Newest first: the variation above the job it came from.
    order = in_view(
        browser,
        lambda d: [e.get_attribute("data-job-id") for e in d.find_elements(By.CSS_SELECTOR, "[data-job-id]")],
    )
    assert order == [new, first]
    shot(browser, artifacts, "variation")


def test_app_asks_before_a_confirmed_call_and_sends_confirm_true(browser, app, artifacts):
    """easel's refusal for a call that needs the user's yes is shown; "Go ahead" (the
    user's click) repeats the call with confirm: true."""
    refusal = {
        "content": [
            {
                "type": "text",
                "text": "CONFIRMATION NEEDED: nothing was submitted to a backend and nothing was spent.\n"
                "run_again would make 2 image(s) on paid backends (2 on modelscope).\n"
                "Ask the user whether to go ahead, showing them the lines above.",
            }
        ],
        "isError": True,
    }
    app(FIXTURE["succeeded"], {"run_again": {"result": refusal}, "get_job": {"hold": True}})
    first = job_id("succeeded")
    click(browser, f'[data-job-id="{first}"] [data-action="variation"]')
    until_in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-action="confirm"]'))
    panel = in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".panel").text)
    assert "2 image(s) on paid backends" in panel and "Ask the user" not in panel
    shot(browser, artifacts, "confirm")
    browser.execute_script(
        "window.host.answers.run_again = {result: arguments[0]};", FIXTURE["variation_started"]["result"]
    )
    click(browser, '[data-action="confirm"]')
    until(browser, lambda d: len(calls(d, "run_again")) == 2)
    assert calls(browser, "run_again")[1] == {
        "job_id": first, "variation": True, "wait_seconds": 0, "preview": "thumbnail", "confirm": True
    }
    until_in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-job-id="{job_id("variation_started")}"]'))


def test_app_sends_chosen_images_to_a_draft_note(browser, app, artifacts):
    saved = {"content": [{"type": "text", "text": "Saved a draft note with 1 image(s) in drafts/."}]}
    app(FIXTURE["succeeded"], {"publish_note": {"result": saved}})
    first = job_id("succeeded")
    files = FIXTURE["succeeded"]["result"]["structuredContent"]["files"]
    card = f'[data-job-id="{first}"]'
    until_in_view(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, card + " .shot")) == 2)
    click(browser, card + " .shot:nth-child(2)")
    click(browser, card + ' [data-action="draft"]')
    until_in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-action="save-draft"]'))
    shot(browser, artifacts, "draft-form")
    click(browser, '[data-action="save-draft"]')
    until(browser, lambda d: calls(d, "publish_note"))
    sent = calls(browser, "publish_note")[0]
    assert sent["publisher"] == "draft"
    assert sent["images"] == [files[1]["uri"]]
    # The prompt's start within a title's 20 units (an ASCII character counts ½), at a space.
    assert sent["title"] == "a lighthouse on a cliff at dusk, oil"
    until_in_view(browser, lambda d: "Saved a draft note" in d.find_element(By.CSS_SELECTOR, ".panel").text)


def test_app_follows_the_jobs_of_a_batch(browser, app, artifacts):
    done = FIXTURE["succeeded"]["result"]["structuredContent"]
    batch = {
        "content": [{"type": "text", "text": "Batch b: 1 of 1 line(s) succeeded."}],
        "structuredContent": {
            "batch_key": "b", "total": 1, "succeeded": 1, "failed": 0, "running": 0, "done": True,
            "lines": [{"line": 1, "prompt": "a lighthouse", "status": "succeeded", "job_id": done["job_id"],
                       "files": [f["path"] for f in done["files"]]}],
        },
    }
    answers = {"get_job": {"result": copy.deepcopy(FIXTURE["succeeded"]["result"])}}
    app({"tool": "generate_batch", "arguments": {"prompts": ["a lighthouse"]}, "result": batch}, answers)
    until(browser, lambda d: calls(d, "get_job"))
    assert calls(browser, "get_job")[0] == {"job_id": done["job_id"], "wait_seconds": 0, "preview": "thumbnail"}
    until_in_view(
        browser,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, f'[data-job-id="{done["job_id"]}"] img')) == 2,
    )
    summary = in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#notices").text)
    assert summary.startswith("Batch b: 1 of 1 line(s) succeeded")
    shot(browser, artifacts, "batch")


def test_app_takes_the_hosts_theme_and_reports_its_size(browser, app, artifacts):
    app(
        FIXTURE["running"],
        {"get_job": {"hold": True}},
        {"theme": "dark", "styles": {"variables": {"--color-ring-primary": "rgb(234, 88, 12)"}}},
    )
    jid = job_id("running")
    until_in_view(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-job-id="{jid}"] .progress'))
    background = in_view(browser, lambda d: d.execute_script("return getComputedStyle(document.body).backgroundColor;"))
    assert background == "rgb(27, 27, 31)", background
    bar = in_view(
        browser,
        lambda d: d.execute_script("return getComputedStyle(document.querySelector('.progress > div')).backgroundColor;"),
    )
    assert bar == "rgb(234, 88, 12)", bar
    shot(browser, artifacts, "dark-running")
    # The finished card has another height; the host is told, and sizes the frame to it.
    before = browser.find_element(By.ID, "view").size["height"]
    browser.execute_script("hostRelease('get_job', arguments[0]);", FIXTURE["cancelled"]["result"])
    until_in_view(browser, lambda d: d.find_element(By.CSS_SELECTOR, f'[data-job-id="{jid}"]').get_attribute("data-status") == "cancelled")
    shot(browser, artifacts, "dark-cancelled")
    assert browser.find_element(By.ID, "view").size["height"] != before
