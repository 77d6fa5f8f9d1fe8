"""Regenerate docs/screenshots/*.png: the main pages during the replayed March 2024 Meta outage.

The same site the browser tests use (a day of simulated history, the outage replayed through
the real detector), served on loopback and shot with Debian's chromium through Playwright.

Run: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.conftest import ARGS, meta_outage_site  # noqa: E402

from panne.store import incidents as incident_store  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots: Debian's chromium is needed (apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, meta_outage_site(Path(tmp) / "shots.db") as site:
        records, _ = incident_store.query(site.node.engine, active=True, kind="group")
        shots = {
            "home.png": ("/", 1200, "en"),
            "service.png": ("/services/facebook", 1200, "en"),
            "incident.png": (f"/incidents/{records[0].id}", 1200, "en"),
            "map.png": ("/map", 1200, "en"),
            "status.png": ("/status/meta", 1000, "en"),
            "service-fr-phone.png": ("/services/instagram", 390, "fr"),
        }
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            for name, (path, width, lang) in shots.items():
                context = browser.new_context(
                    viewport={"width": width, "height": 900},
                    timezone_id="Europe/Paris",
                    locale="fr-FR" if lang == "fr" else "en-GB",
                )
                context.add_cookies([{"name": "lang", "value": lang, "url": site.url}])
                page = context.new_page()
                page.goto(site.url + path)
                page.screenshot(path=str(OUT / name), full_page=name != "home.png")
                context.close()
                print(f"wrote {OUT / name}")
            browser.close()


if __name__ == "__main__":
    main()
