"""Drives the web inbox in headless Chromium through Selenium, for
browser_test.go: a delivered message appears without a reload, its HTML
renders in the sandbox, a script inside the mail does not run, and an
attachment downloads with the right bytes. Prints one line per check;
exits non-zero on the first failure. Handshake with the Go test: prints
READY when the list page is loaded, then reads a line from stdin once the
message has been delivered."""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

base, download_dir, want_file, want_bytes_path = sys.argv[1:5]

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--user-data-dir=" + os.path.join(download_dir, "profile")):
    opts.add_argument(a)
opts.add_experimental_option("prefs", {
    "download.default_directory": download_dir,
    "download.prompt_for_download": False,
    "safebrowsing.enabled": False,
})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
driver.set_page_load_timeout(30)
try:
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    driver.get(base + "/")
    title = driver.title
    assert "No messages yet" in driver.page_source, "empty inbox expected"
    print("READY", flush=True)
    sys.stdin.readline()  # the Go test delivered the message

    # Live update: the row appears without a reload.
    link = WebDriverWait(driver, 15).until(EC.presence_of_element_located((By.LINK_TEXT, "Receipt")))
    print("live update: ok", flush=True)
    link.click()
    WebDriverWait(driver, 15).until(EC.presence_of_element_located((By.ID, "html-part")))

    # The HTML part renders inside the sandboxed frame.
    frame = driver.find_element(By.ID, "html-part")
    assert frame.get_attribute("sandbox") == "", "frame must be sandboxed without allowances"
    driver.switch_to.frame(frame)
    hello = WebDriverWait(driver, 15).until(EC.presence_of_element_located((By.ID, "hello")))
    assert hello.text == "Hello Bob", hello.text
    # The mail's script did not run: it would have added #injected.
    assert not driver.find_elements(By.ID, "injected"), "script in the mail ran"
    driver.switch_to.default_content()
    assert driver.title != "pwned", "script in the mail reached the page"
    print("html sandbox: ok", flush=True)

    # The attachment downloads with the right bytes.
    driver.find_element(By.CSS_SELECTOR, "a.attachment").click()
    path = os.path.join(download_dir, want_file)
    deadline = time.time() + 15
    while time.time() < deadline and not (os.path.exists(path) and os.path.getsize(path) > 0):
        time.sleep(0.1)
    with open(path, "rb") as f, open(want_bytes_path, "rb") as w:
        assert f.read() == w.read(), "downloaded bytes differ"
    print("attachment: ok", flush=True)
finally:
    driver.quit()
