"""Plays the admin's browser in a Salesforce browser login against the sandbox (plain requests)."""

from __future__ import annotations

import html
import re
import threading
from urllib.parse import urlsplit

import requests

from cpq_sync_gui.sandbox.sandbox import Sandbox


def play_browser(sandbox: Sandbox, url: str, username: str, password: str) -> requests.Response:
    """What the admin does in the browser: open the authorize URL, log in, get redirected back."""
    browser = requests.Session()
    browser.trust_env = False
    browser.verify = str(sandbox.ca_path)
    with browser:
        page = browser.get(url, timeout=10)
        assert page.status_code == 200, page.text
        hidden = {
            name: html.unescape(value)
            for name, value in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text
            )
        }
        form = {**hidden, "username": username, "pw": password, "action": "login"}
        origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
        answer = browser.post(
            f"{origin}/services/oauth2/authorize", data=form, allow_redirects=False, timeout=10
        )
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith("http://localhost:")
        return browser.get(location, timeout=10)  # the loopback redirect to CPQ Sync


class BrowserPlayer:
    """A ``browser_opener`` that plays the browser in a thread, like a real browser would."""

    def __init__(self, sandbox: Sandbox, username: str, password: str) -> None:
        self.sandbox, self.username, self.password = sandbox, username, password
        self.urls: list[str] = []
        self.pages: list[requests.Response] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        thread = threading.Thread(
            target=lambda: self.pages.append(
                play_browser(self.sandbox, url, self.username, self.password)
            )
        )
        thread.start()
        self.threads.append(thread)
        return True

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)
