"""reencoder-serve's page in a real browser: headless Chromium (Debian's, ``make install`` brings
it) driven by selenium through Debian's chromedriver.  Type a sentence, see every model's
translation, point at a word of the Reencoder's, see the grid's heat map drawn with the CJK
font; a screenshot goes to runs/serve/page.png.  Without a browser the test skips, except in
CI (``CI=true``), where it fails."""

from __future__ import annotations

import os
import shutil

import pytest

from reencoder.translate import Translator
from tests.helpers import REPO
from tests.serve_fixtures import call

pytestmark = pytest.mark.usefixtures("one_thread")

SCREENSHOT = REPO / "runs" / "serve" / "page.png"
WAIT_S = 180


def browser_paths():
    """``(chromium, chromedriver)``; skip (fail under CI=true) when either is missing."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    message = "headless Chromium and chromedriver not installed (make install brings Debian's chromium, chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": the page's browser test must run in CI")
    pytest.skip(message)


@pytest.fixture
def browser():
    chromium, chromedriver = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def translate_and_point(driver, url: str, sentence: str, model: str, word: int = 0, screenshot=None) -> dict:
    """Open the page, type ``sentence``, translate, point at word ``word`` of ``model``'s
    translation; returns what the page shows (translations per model, the heat map's cells,
    the grid's title, whether the CJK font loaded) and writes ``screenshot`` if given."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".model"))
    box = driver.find_element(By.ID, "source")
    box.clear()
    box.send_keys(sentence)
    driver.find_element(By.ID, "translate").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".model li.translation"))
    target = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.model[data-model="{model}"] .word'))[word]
    ActionChains(driver).move_to_element(target).perform()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#heatmap rect.cell"))
    fonts = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.load('16px \"Reencoder CJK\"', '我').then((faces) => done(faces.length), () => done(0));")
    shown = {
        "translations": {card.get_attribute("data-model"): [li.text for li in card.find_elements(By.CSS_SELECTOR, "li")]
                         for card in driver.find_elements(By.CSS_SELECTOR, ".model")},
        "ms": [span.text for span in driver.find_elements(By.CSS_SELECTOR, ".model .ms")],
        "cells": len(driver.find_elements(By.CSS_SELECTOR, "#heatmap rect.cell")),
        "bright": len([c for c in driver.find_elements(By.CSS_SELECTOR, "#heatmap rect.cell")
                       if c.get_attribute("opacity") == "1"]),
        "title": driver.find_element(By.ID, "grid-title").text,
        "word": target.text,
        "cjk_font_faces": fonts,
    }
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    return shown


def test_type_translate_point_see_the_grid(tiny, tiny_server, browser):
    translator = Translator.from_folder(tiny.folder, warn=lambda message: None)
    # a test sentence whose (tiny, poor) translation has a word to point at
    sentence, english = next((zh, en) for zh, en in zip(tiny.test_zh[:20], translator.translate(tiny.test_zh[:20])) if en)
    shown = translate_and_point(browser, tiny_server, sentence, "tiny", screenshot=SCREENSHOT)
    status, heat = call(tiny_server, "/heatmap", {"model": "tiny", "source": sentence, "target": english})
    assert status == 200
    assert shown["translations"] == {"tiny": [english], "again": [english]}
    assert len(shown["ms"]) == 2 and all(text.endswith(" ms") for text in shown["ms"])
    assert shown["word"] == heat["words"][0]["text"]
    assert shown["cells"] == len(heat["src_labels"]) * len(heat["tgt_labels"])
    assert shown["bright"] == len(heat["src_labels"]) * len(heat["words"][0]["columns"])
    assert shown["title"].startswith(f"tiny, line 1, “{shown['word']}”")
    assert shown["cjk_font_faces"] >= 1  # the packaged Noto Sans SC, through @font-face
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
