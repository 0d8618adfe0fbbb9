"""The gallery page in a real browser (issue 15): jobs with images, live progress, the job
viewer and its actions, filters and paging, publishing, a phone-sized screen.

Each test starts its own easel (fresh store) against the shared simulators; every wait is on
a condition of the page or the store, never a sleep."""

from __future__ import annotations

import datetime

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from pagekit import (card, card_ids, card_status, cards, console_problems, images_loaded, open_gallery,
                     shot, wait)


def test_jobs_render_with_images_newest_first(browser, easel, artifacts):
    first = easel.generate("a red fox in fresh snow, morning light", count=2, seed=41)
    second = easel.generate("a lighthouse on a cliff at dusk", seed=7, size="384x256")
    open_gallery(browser, easel.url)
    wait(browser, lambda d: len(cards(d)) == 2, "two cards")
    assert card_ids(browser) == [second["job_id"], first["job_id"]], "newest first"

    for job, n, word in ((first, 2, "red fox"), (second, 1, "lighthouse")):
        sel = f'#grid > li.card[data-job-id="{job["job_id"]}"]'
        widths = wait(browser, lambda d: images_loaded(d, sel), f"thumbnails of {job['job_id']}")
        assert len(widths) == n and all(w > 0 for w in widths), widths
        c = card(browser, job["job_id"])
        assert c.get_attribute("data-status") == "succeeded"
        text = c.text
        for expected in ("modelscope", job["model"], job["size"], str(job["seed"])):
            assert expected in text, f"{expected!r} not on the card: {text!r}"
        alt = c.find_element(By.CSS_SELECTOR, "img").get_attribute("alt")
        assert word in alt, f"alt text {alt!r} is not from the prompt"
    shot(browser, artifacts, "gallery-jobs")

    # The viewer: the full image, every parameter, the command; ←/→ between images, Esc closes.
    card(browser, first["job_id"]).find_element(By.CSS_SELECTOR, '[data-action="open"][data-index="0"]').click()
    viewer = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#viewer[open]"), "the viewer")
    wait(browser, lambda d: "easel generate" in viewer.text, "the equivalent command in the viewer")
    wait(browser, lambda d: images_loaded(d, "#viewer .stage"), "the full image")
    assert "1 / 2" in viewer.text and "41" in viewer.text
    download = viewer.find_element(By.CSS_SELECTOR, '[data-action="download"]')
    assert download.get_attribute("href") == f"{easel.url}/gallery/img/{first['job_id']}/0"
    assert download.get_attribute("download") == first["files"][0]["path"].rsplit("/", 1)[1]
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": easel.url,
                                                         "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})

    def clipboard(d):
        return d.execute_async_script("const done = arguments[0]; navigator.clipboard.readText().then(done, e => done(String(e)))")

    full = easel.api(f"/gallery/api/jobs/{first['job_id']}")
    viewer.find_element(By.CSS_SELECTOR, '[data-action="copy-command"]').click()
    wait(browser, lambda d: "Command copied" in d.find_element(By.ID, "toast").text, "the command copied")
    assert clipboard(browser) == full["command"] and full["command"].startswith("easel generate ")
    viewer.find_element(By.CSS_SELECTOR, '[data-action="copy-path"]').click()
    wait(browser, lambda d: "Path copied" in d.find_element(By.ID, "toast").text, "the path copied")
    assert clipboard(browser) == first["files"][0]["path"] == full["paths"][0]
    shot(browser, artifacts, "gallery-viewer")
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    wait(browser, lambda d: "2 / 2" in d.find_element(By.CSS_SELECTOR, "#viewer figcaption").text, "image 2 of 2")
    # Past the last image of the newest job... →: on to the older job; ←: back.
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    wait(browser, lambda d: "1 / 2" in d.find_element(By.CSS_SELECTOR, "#viewer figcaption").text, "image 1 of 2")
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    wait(browser, lambda d: "lighthouse" in d.find_element(By.CSS_SELECTOR, "#viewer .prompt").text,
         "← from the first image moves to the newer job")
    # Focus stays inside the dialog while tabbing.
    for _ in range(12):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        assert browser.execute_script("return document.getElementById('viewer').contains(document.activeElement)")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#viewer[open]"), "the viewer to close")
    assert console_problems(browser) == []


def test_running_job_progress_moves_then_turns_into_images(browser, easel, artifacts):
    open_gallery(browser, easel.url)
    # Every value the progress bars take, as the page sets them (no polling gaps on a busy machine).
    browser.execute_script("""
        window.__sameDocument = true;
        window.__seen = [];
        new MutationObserver(() => {
          for (const p of document.querySelectorAll('#grid .progress')) window.__seen.push(Number(p.getAttribute('aria-valuenow')));
        }).observe(document.getElementById('grid'), {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow']});
    """)
    job = easel.generate_slow("a slow watercolour harbour", steps=40)
    job_id = job["job_id"]
    wait(browser, lambda d: card(d, job_id) is not None, "the new job to appear without reload")

    def in_progress(d):
        return [v for v in d.execute_script("return window.__seen") if 0 < v < 100]

    wait(browser, lambda d: in_progress(d) or card_status(d, job_id) == "succeeded", "progress above 0 %")
    if card_status(browser, job_id) == "running":
        assert card(browser, job_id).find_element(By.CSS_SELECTOR, ".progress-msg").text.strip(), "a progress message"
        shot(browser, artifacts, "gallery-progress")
    wait(browser, lambda d: card_status(d, job_id) == "succeeded", "the job to finish")
    widths = wait(browser, lambda d: images_loaded(d, f'#grid > li.card[data-job-id="{job_id}"]'), "its image")
    assert widths and all(w > 0 for w in widths)
    assert browser.execute_script("return window.__sameDocument === true"), "the page was reloaded"
    seen = in_progress(browser)
    assert len(set(seen)) >= 2 and seen == sorted(seen), f"the bar did not move forward: {seen}"
    shot(browser, artifacts, "gallery-progress-done")
    assert console_problems(browser) == []


def test_live_jobs_respect_the_filters(browser, easel):
    browser.get(easel.url + "/#backend=comfyui")
    wait(browser, lambda d: d.execute_script("return document.querySelector('#live.on') !== null"), "the event stream")
    other = easel.generate("a modelscope job the filter hides")
    shown = easel.generate("a comfyui job the filter shows", backend="comfyui", steps=2, size="128x128")
    wait(browser, lambda d: card_status(d, shown["job_id"]) == "succeeded", "the matching job, live")
    # Events come in order: the hidden job's came before, and it is not there.
    assert card(browser, other["job_id"]) is None
    assert card_ids(browser) == [shown["job_id"]]


def test_reconnects_after_a_restart_and_catches_up(browser, easel, artifacts):
    before = easel.generate("made before the restart")
    open_gallery(browser, easel.url)
    wait(browser, lambda d: card(d, before["job_id"]) is not None, "the first card")
    browser.execute_script("window.__sameDocument = true")
    easel.proc.stop()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#live.off"), "the page to notice the lost stream")
    # Made while no gallery runs (the command line on the same store): no event will ever say so.
    easel.cli("generate", "made while the gallery was down", "--size", "256x256")
    easel.restart()
    made = [j for j in easel.jobs() if j["prompt"] == "made while the gallery was down"]
    assert len(made) == 1
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#live.on"), "the stream to reconnect")
    wait(browser, lambda d: card_ids(d) == [made[0]["id"], before["job_id"]], "the missed job after reconnecting")
    assert browser.execute_script("return window.__sameDocument === true"), "the page was reloaded"
    shot(browser, artifacts, "gallery-reconnected")


def test_error_banner_quotes_the_server(browser, easel, artifacts):
    browser.get(easel.url + "/#status=sideways")
    banner = wait(browser, lambda d: (b := d.find_element(By.ID, "banner")).is_displayed() and b, "the error banner")
    text = banner.text
    assert "status" in text and "sideways" in text, text
    shot(browser, artifacts, "gallery-error-banner")
    banner.find_element(By.CSS_SELECTOR, '[data-action="dismiss"]').click()
    wait(browser, lambda d: not d.find_element(By.ID, "banner").is_displayed(), "the banner dismissed")


def test_cancel_from_the_page(browser, easel, artifacts):
    job = easel.generate_slow("a long render of a forest", steps=100)  # 10 s
    open_gallery(browser, easel.url)
    wait(browser, lambda d: card_status(d, job["job_id"]) == "running", "the job running")
    card(browser, job["job_id"]).find_element(By.CSS_SELECTOR, '[data-action="cancel"]').click()
    wait(browser, lambda d: card_status(d, job["job_id"]) == "cancelled", "the card to say cancelled")
    assert easel.api(f"/gallery/api/jobs/{job['job_id']}")["status"] == "cancelled"
    shot(browser, artifacts, "gallery-cancelled")


def test_run_again_and_variation_make_new_jobs(browser, easel, artifacts):
    job = easel.generate("a paper boat on a pond", seed=1234)
    open_gallery(browser, easel.url)
    wait(browser, lambda d: card(d, job["job_id"]) is not None, "the card")

    card(browser, job["job_id"]).find_element(By.CSS_SELECTOR, '[data-action="again"]').click()
    wait(browser, lambda d: len(cards(d)) == 2, "the job run again to appear")
    again_id = card_ids(browser)[0]
    assert again_id != job["job_id"]
    wait(browser, lambda d: card_status(d, again_id) == "succeeded", "the run again to finish")
    again = easel.api(f"/gallery/api/jobs/{again_id}")
    assert again["seeds"] == [1234] and again["prompt"] == "a paper boat on a pond", again

    card(browser, job["job_id"]).find_element(By.CSS_SELECTOR, '[data-action="variation"]').click()
    wait(browser, lambda d: len(cards(d)) == 3, "the variation to appear")
    variation_id = card_ids(browser)[0]
    wait(browser, lambda d: card_status(d, variation_id) == "succeeded", "the variation to finish")
    variation = easel.api(f"/gallery/api/jobs/{variation_id}")
    assert variation["seeds"] != [1234] and variation["prompt"] == again["prompt"], variation
    shot(browser, artifacts, "gallery-again-variation")


def test_filters_and_paging(browser, easel, artifacts):
    # 41 ModelScope jobs (one page is 40), a batch of two, one ComfyUI job.
    for i in range(41):
        easel.generate(f"{'blue' if i % 10 == 0 else 'green'} tile number {i}")
    batch = easel.mcp("generate_batch", {"prompts": ["batch moon one", "batch moon two"],
                                         "defaults": {"size": "256x256", "preview": "none"}, "wait_seconds": 60})
    comfy = easel.generate("a comfy chair", backend="comfyui", steps=2, size="128x128")
    assert comfy["status"] == "succeeded", comfy
    total = 44
    assert len(easel.jobs("limit=100")) == total

    browser.set_window_size(1280, 700)
    open_gallery(browser, easel.url)
    wait(browser, lambda d: len(cards(d)) >= 40, "the first page")
    # Scrolling to the end (or the "more" button) loads the rest via `next`.
    browser.execute_script("document.getElementById('more').scrollIntoView()")
    wait(browser, lambda d: len(cards(d)) == total, f"all {total} jobs after scrolling")
    assert browser.find_element(By.ID, "more").get_attribute("hidden") is not None
    ids = card_ids(browser)
    assert len(set(ids)) == total, "no job twice"

    form = browser.find_element(By.ID, "filters")
    Select(form.find_element(By.NAME, "backend")).select_by_value("comfyui")
    wait(browser, lambda d: card_ids(d) == [comfy["job_id"]], "only the ComfyUI job")
    assert "backend=comfyui" in browser.current_url
    Select(form.find_element(By.NAME, "backend")).select_by_value("")

    q = form.find_element(By.NAME, "q")
    q.send_keys("BLUE")
    wait(browser, lambda d: len(cards(d)) == 5 and all("blue" in c.text for c in cards(d)), "the five blue tiles")
    shot(browser, artifacts, "gallery-filtered")
    q.clear()
    q.send_keys(Keys.ENTER)

    batch_key = batch["batch_key"]
    wait(browser, lambda d: any(o.get_attribute("value") == batch_key
                                for o in d.find_elements(By.CSS_SELECTOR, "select[name=batch] option")), "the batch in the menu")
    Select(form.find_element(By.NAME, "batch")).select_by_value(batch_key)
    wait(browser, lambda d: len(cards(d)) == 2 and all("moon" in c.text for c in cards(d)), "the batch's two jobs")
    Select(form.find_element(By.NAME, "batch")).select_by_value("")

    # Dates (UTC days) around the day the jobs were made.
    made = datetime.datetime.fromtimestamp(easel.jobs("limit=1")[0]["created_at_ms"] / 1000, datetime.timezone.utc).date()
    day = datetime.timedelta(days=1)

    def set_date(name: str, value: datetime.date | None) -> None:
        browser.execute_script(
            "const f = document.querySelector(`#filters [name=${arguments[0]}]`); f.value = arguments[1];"
            "f.dispatchEvent(new Event('change', {bubbles: true}))", name, value.isoformat() if value else "")

    set_date("since", made + day)
    wait(browser, lambda d: not cards(d) and d.find_element(By.ID, "empty").is_displayed(), "nothing made since tomorrow")
    set_date("since", made)
    wait(browser, lambda d: len(cards(d)) >= 40, "every job made since today")
    set_date("until", made - day)
    wait(browser, lambda d: not cards(d), "nothing between today and yesterday")
    set_date("since", None)
    set_date("until", made)
    wait(browser, lambda d: len(cards(d)) >= 40, "every job made until today")
    set_date("until", None)

    Select(form.find_element(By.NAME, "status")).select_by_value("failed")
    wait(browser, lambda d: not cards(d) and d.find_element(By.ID, "empty").is_displayed(), "no failed job")
    browser.find_element(By.CSS_SELECTOR, '[data-action="reset"]').click()
    wait(browser, lambda d: len(cards(d)) >= 40, "every job again after Clear")
    assert console_problems(browser) == []


def test_publish_selected_images_with_preview_and_confirmation(browser, easel, artifacts):
    a = easel.generate("a teapot, studio photo", seed=5)
    b = easel.generate("a teacup, studio photo", seed=6)
    open_gallery(browser, easel.url)
    for job in (a, b):
        wait(browser, lambda d: card(d, job["job_id"]) is not None, "the card")
        card(browser, job["job_id"]).find_element(By.CSS_SELECTOR, '[data-action="open"]').click()
        select = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, '#viewer[open] [data-action="select"]'), "select")
        select.click()
        wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, '#viewer [data-action="select"]').get_attribute("aria-pressed") == "true",
             "the image selected")
        browser.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#viewer[open]"), "the viewer to close")
    assert "2 images selected" in browser.find_element(By.ID, "selection").text
    browser.find_element(By.CSS_SELECTOR, '[data-action="publish-open"]').click()
    dialog = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#publish[open]"), "the publish dialog")
    confirm = dialog.find_element(By.CSS_SELECTOR, '[data-action="publish"]')

    # Too long a title: the same checks as publish_note refuse it, and nothing can be confirmed.
    dialog.find_element(By.NAME, "title").send_keys("x" * 150)
    dialog.find_element(By.NAME, "content").send_keys("Tea things.")
    dialog.find_element(By.CSS_SELECTOR, '[data-action="preview"]').click()
    wait(browser, lambda d: dialog.find_element(By.ID, "publish-result").text.strip() not in ("", "Checking…"), "the check")
    assert not confirm.is_enabled()
    shot(browser, artifacts, "gallery-publish-refused")
    drafts = easel.out / "drafts"
    assert not drafts.exists() or not any(drafts.iterdir())

    title = dialog.find_element(By.NAME, "title")
    title.clear()
    title.send_keys("Tea set")
    dialog.find_element(By.NAME, "tags").send_keys("tea, #still life")
    dialog.find_element(By.CSS_SELECTOR, '[data-action="preview"]').click()
    wait(browser, lambda d: confirm.is_enabled(), "the check to pass")
    summary = dialog.find_element(By.CSS_SELECTOR, ".summary").text
    # A draft publisher writes a local folder: the preview must not say the note goes public.
    assert "draft folder" in summary and "nothing is posted" in summary, summary
    assert "public and easel cannot take it back" not in summary, summary
    assert not drafts.exists() or not any(drafts.iterdir()), "a preview published something"
    shot(browser, artifacts, "gallery-publish-preview")
    confirm.click()
    wait(browser, lambda d: "Published" in dialog.find_element(By.ID, "publish-result").text, "the note to be published")
    assert drafts.exists() and any(drafts.rglob("*")), "no draft written"
    shot(browser, artifacts, "gallery-published")


def test_phone_width_has_no_horizontal_scroll(phone, easel, artifacts):
    easel.generate("a long prompt " + "with many words " * 30, count=2)
    easel.generate_slow("a running job on a phone", steps=100)
    easel.generate("a wide panorama", size="1024x256")
    open_gallery(phone, easel.url)
    wait(phone, lambda d: len(cards(d)) == 3, "three cards")
    for c in cards(phone):
        if c.get_attribute("data-status") == "succeeded":
            sel = f'#grid > li.card[data-job-id="{c.get_attribute("data-job-id")}"]'
            wait(phone, lambda d: images_loaded(d, sel), f"thumbnails of {sel}")
    assert phone.execute_script("return window.innerWidth") == 375
    assert phone.execute_script("return document.documentElement.scrollWidth") <= 375
    for c in cards(phone):
        r = c.rect
        assert r["x"] >= 0 and r["x"] + r["width"] <= 375, r
    small = phone.execute_script(
        "return [...document.querySelectorAll('#grid button, header button')].filter(b => b.offsetParent)"
        ".map(b => b.getBoundingClientRect()).filter(r => r.height < 40 && r.width > 0).length")
    assert small == 0, "touch targets under 40 px"
    shot(phone, artifacts, "gallery-phone")
    cards(phone)[-1].find_element(By.CSS_SELECTOR, '[data-action="open"]').click()
    wait(phone, lambda d: images_loaded(d, "#viewer .stage"), "the viewer's image")
    assert phone.execute_script("return document.documentElement.scrollWidth") <= 375
    shot(phone, artifacts, "gallery-phone-viewer")
    assert console_problems(phone) == []


def test_page_weight(easel):
    total = 0
    for path in ("/", "/gallery/app.js", "/gallery/app.css"):
        status, _, body = easel.request("GET", path)
        assert status == 200, path
        total += len(body)
    assert total <= 300 * 1024, f"the page weighs {total} bytes without images"
