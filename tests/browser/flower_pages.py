"""Looks at a deployed Flower the way an operator does: in a real browser (Debian's
Chromium, headless, driven through its chromedriver), with and without logging in.

    flower_pages.py URL --worker celery@host [--worker ...] --task NAME --queue NAME \
        --user admin --screenshots DIR  < password

Checks, each page kept as a screenshot in DIR:
  refused.png  without credentials the browser gets 401 and no worker name;
  workers.png  Workers lists every --worker as Online;
  tasks.png    Tasks lists --task in state SUCCESS;
  broker.png   Broker lists --queue with a number of messages.
Prints one JSON line of what it saw; exits 1 naming the first check that failed.
The password comes on stdin, so it is never on a command line.
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


class PageCheckFailed(Exception):
    pass


def chromium() -> webdriver.Chrome:
    # make test installs the browser in the background while the stack converges: this
    # waits for that install (or makes one) unless a browser is named.
    if not (os.environ.get("CHROMIUM") and os.environ.get("CHROMEDRIVER")):
        installed = subprocess.run([str(Path(__file__).resolve().parents[2] / "scripts" / "browser.sh")],
                                   capture_output=True, text=True, check=False)
        if installed.returncode != 0:
            raise PageCheckFailed(f"scripts/browser.sh failed: {installed.stderr.strip()[-1500:]}")
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not binary or not driver:
        raise PageCheckFailed("no chromium and chromedriver on this machine (scripts/browser.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    # --no-sandbox: the tests run as root, where Chromium's own sandbox cannot start.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,1000"):
        options.add_argument(argument)
    # The performance log carries each response's HTTP status.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def document_statuses(browser: webdriver.Chrome) -> list[int]:
    """HTTP statuses of the documents (not scripts or XHRs) loaded since the last call."""
    statuses = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.responseReceived" and message["params"].get("type") == "Document":
            statuses.append(message["params"]["response"]["status"])
    return statuses


def wait_for(browser, what: str, timeout: float, condition, shot: Path):
    """condition's first true answer; on a timeout, the page as it stood is kept in shot and
    its visible text goes into the failure."""
    try:
        # DataTables redraws its rows while the page refreshes them.
        wait = WebDriverWait(browser, timeout, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,))
        return wait.until(condition)
    except TimeoutException:
        browser.save_screenshot(str(shot))
        text = " | ".join(browser.find_element(By.TAG_NAME, "body").text.split("\n"))[:1500]
        raise PageCheckFailed(f"{what}, not within {timeout:.0f} s; the page ({browser.current_url}) showed: {text}") from None


def table_rows(browser, table_id: str) -> list[list[str]]:
    rows = browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [[cell.text.strip() for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def online_workers(browser) -> set[str]:
    """Workers whose status badge says Online. Flower draws a long name in two parts that
    wrap onto two lines; the name is the two parts joined."""
    return {row[0].replace("\n", "") for row in table_rows(browser, "workers-table") if row[1:2] == ["Online"]}


def check(base: str, user: str, password: str, workers: list[str], task: str, queue: str,
          shots: Path, timeout: float) -> dict:
    shots.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    browser = chromium()
    try:
        # Without credentials: Flower answers 401 and shows nothing of the fleet.
        browser.get(base)
        statuses = document_statuses(browser)
        browser.save_screenshot(str(shots / "refused.png"))
        if 401 not in statuses or any(worker in browser.page_source for worker in workers):
            raise PageCheckFailed(f"without credentials the page was not refused (statuses {statuses})")
        seen["without_login"] = statuses[-1]

        # Logged in: the browser sends the Authorization header with every request.
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})

        browser.get(base)
        online = wait_for(browser, f"Workers did not list {workers} as Online", timeout,
                          lambda b: (names := online_workers(b)) >= set(workers) and names, shots / "workers-failed.png")
        seen["workers_online"] = sorted(online)
        browser.save_screenshot(str(shots / "workers.png"))

        browser.get(base + "tasks")
        succeeded = wait_for(browser, f"Tasks did not list {task} in state SUCCESS", timeout,
                             lambda b: [row for row in table_rows(b, "tasks-table") if task in row and "SUCCESS" in row],
                             shots / "tasks-failed.png")
        seen["succeeded_rows"] = len(succeeded)
        browser.save_screenshot(str(shots / "tasks.png"))

        browser.get(base + "broker")
        row = wait_for(browser, f"Broker did not list the queue {queue} with its length", timeout,
                       lambda b: next((r for r in table_rows(b, "queue-table") if r[:1] == [queue] and r[1:2] and r[1].isdigit()), None),
                       shots / "broker-failed.png")
        seen["queue"] = {"name": row[0], "messages": int(row[1])}
        browser.save_screenshot(str(shots / "broker.png"))
        return seen
    finally:
        browser.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="Flower's address, with its url_prefix, e.g. http://10.0.0.5/flower/")
    parser.add_argument("--user", required=True)
    parser.add_argument("--worker", action="append", required=True, help="a worker that must be Online")
    parser.add_argument("--task", required=True, help="a task name that must show SUCCESS")
    parser.add_argument("--queue", required=True, help="a queue the Broker page must list")
    parser.add_argument("--screenshots", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n")
    base = args.url if args.url.endswith("/") else args.url + "/"
    try:
        seen = check(base, args.user, password, args.worker, args.task, args.queue, args.screenshots, args.timeout)
    except PageCheckFailed as failure:
        print(f"Flower in Chromium: {failure} (screenshots in {args.screenshots})", file=sys.stderr)
        return 1
    print(json.dumps(dict(seen, screenshots=sorted(str(p) for p in args.screenshots.glob("*.png")))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
