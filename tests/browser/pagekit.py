"""Helpers for the gallery page's browser tests: waiting on page conditions (never sleeping),
finding cards by their stable hooks, screenshots, console checks."""

from __future__ import annotations

import pathlib
import struct
import zlib
from typing import Any, Callable

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30


def wait(driver: WebDriver, cond: Callable[[WebDriver], Any], what: str, timeout: float = TIMEOUT,
         poll: float = 0.05) -> Any:
    """Waits until `cond` returns something truthy; the failure message says what was awaited.
    An element the page re-rendered meanwhile (stale) or has not made yet counts as not yet."""
    return WebDriverWait(driver, timeout, poll_frequency=poll,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(cond, message=f"waited {timeout}s for {what}")


def cards(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#grid > li.card[data-job-id]")


def card_ids(driver: WebDriver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#grid > li.card[data-job-id]')].map(c => c.dataset.jobId)")


def card(driver: WebDriver, job_id: str) -> WebElement | None:
    found = driver.find_elements(By.CSS_SELECTOR, f'#grid > li.card[data-job-id="{job_id}"]')
    return found[0] if found else None


def card_status(driver: WebDriver, job_id: str) -> str | None:
    return driver.execute_script(
        "const c = document.querySelector(`#grid > li.card[data-job-id='${arguments[0]}']`);"
        "return c ? c.dataset.status : null", job_id)


def images_loaded(driver: WebDriver, root_css: str) -> list[int]:
    """naturalWidth of every <img> under root_css once all are complete, else []."""
    return driver.execute_script(
        "const imgs = [...document.querySelectorAll(arguments[0] + ' img')];"
        "if (!imgs.length || imgs.some(i => !i.complete)) return [];"
        "return imgs.map(i => i.naturalWidth)", root_css)


def open_gallery(driver: WebDriver, url: str) -> None:
    driver.get(url + "/")
    wait(driver, lambda d: d.execute_script("return document.querySelector('#live.on') !== null"),
         "the event stream to connect (#live.on)")


def shot(driver: WebDriver, artifacts: pathlib.Path, name: str) -> pathlib.Path:
    path = artifacts / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_problems(driver: WebDriver) -> list[str]:
    """Script errors and CSP violations the page logged (warnings and info are ignored)."""
    return [e["message"] for e in driver.get_log("browser")
            if e.get("level") == "SEVERE" or "Content Security Policy" in e.get("message", "")]


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour, of a size no easel image has (used as the 'secret' outside the root)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
