// panne's page script: the pages read fine without it. It shows times in the viewer's zone,
// filters services as you type, refreshes the live part of a page, and sends reports through
// the JSON API (which only accepts JSON, so no other site can post to it).
"use strict";
(function () {
  const lang = document.documentElement.lang || "en";
  // The page's language, in the viewer's own variant of it when they have one (en-GB: 24 h).
  const locale = (navigator.languages || []).find((l) => l.split("-")[0] === lang) || lang;
  const REFRESH_MS = 20000;
  const styles = {
    time: { hour: "2-digit", minute: "2-digit" },
    date: { dateStyle: "medium" },
    datetime: { dateStyle: "medium", timeStyle: "short" },
  };

  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      const opts = styles[el.dataset.style] || styles.datetime;
      el.textContent = new Intl.DateTimeFormat(locale, opts).format(d);
    });
    root.querySelectorAll("[data-t]").forEach((el) => {
      const d = new Date(Number(el.dataset.t) * 1000);
      el.textContent = new Intl.DateTimeFormat(locale, styles.time).format(d);
    });
  }

  function fold(s) {
    return s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }

  function setupFilter() {
    const input = document.querySelector("input[data-filter]");
    if (!input) return;
    const apply = () => {
      const grid = document.querySelector(input.dataset.filter);
      if (!grid) return;
      const q = fold(input.value);
      let shown = 0;
      grid.querySelectorAll("[data-search]").forEach((card) => {
        const hit = !q || card.dataset.search.includes(q);
        card.hidden = !hit;
        if (hit) shown++;
      });
      const none = document.querySelector(".none-found");
      if (none) none.hidden = shown > 0;
    };
    input.addEventListener("input", apply);
    document.addEventListener("panne:refreshed", apply);
  }

  async function refreshOne(live) {
    const url = live.dataset.live;
    const sep = url.includes("?") ? "&" : "?";
    try {
      const res = await fetch(url + sep + "live=" + live.dataset.block, {
        headers: { accept: "text/html" },
      });
      if (!res.ok) return;
      live.innerHTML = await res.text();
      localize(live);
    } catch (e) {
      /* offline for a moment: the next round tries again */
    }
  }

  async function refresh() {
    await Promise.all([...document.querySelectorAll("[data-live]")].map(refreshOne));
    document.dispatchEvent(new Event("panne:refreshed"));
  }

  function setupReport() {
    const form = document.querySelector("form[data-report]");
    if (!form) return;
    const feedback = form.querySelector(".feedback");
    const button = form.querySelector("button[type=submit]");
    const say = (key) => { feedback.textContent = feedback.dataset[key]; };
    form.noValidate = true; // the script says what is missing, in the page's language
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const choice = form.querySelector("input[name=problem]:checked");
      if (!choice) { say("choose"); return; }
      if (button.disabled) return;
      button.disabled = true;
      try {
        const res = await fetch("/api/v1/reports", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ service: form.dataset.report, problem: choice.value }),
        });
        if (res.status === 202) {
          const body = await res.json();
          say(body.counted ? "ok" : "again");
          await refresh();
        } else {
          say(res.status === 429 ? "limited" : "failed");
        }
      } catch (e) {
        say("failed");
      } finally {
        // One press, one report: the button comes back after a pause, not at once.
        setTimeout(() => { button.disabled = false; }, 5000);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    localize(document);
    setupFilter();
    setupReport();
    if (document.querySelector("[data-live]")) {
      setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
    }
  });
})();
