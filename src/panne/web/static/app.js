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
    const clock = new Intl.DateTimeFormat(locale, styles.time);
    root.querySelectorAll("[data-t]").forEach((el) => {
      el.textContent = clock.format(new Date(Number(el.dataset.t) * 1000));
    });
    // A chart bar's tooltip begins "15:30 UTC"; its bucket is read back from its x (the svg
    // says where bucket 0 is, how wide a bucket is and how long), as charts.py placed it.
    root.querySelectorAll("svg[data-t0]").forEach((svg) => {
      const t0 = Number(svg.dataset.t0), step = Number(svg.dataset.step);
      const x0 = Number(svg.dataset.x0), dx = Number(svg.dataset.dx);
      if (!dx) return;
      svg.querySelectorAll("rect > title").forEach((title) => {
        const i = Math.round((Number(title.parentNode.getAttribute("x")) - x0) / dx);
        const local = clock.format(new Date((t0 + i * step) * 1000));
        title.textContent = title.textContent.replace(/^\d\d:\d\d UTC/, local);
      });
    });
  }

  // The server's fold (panne/web/search.py): casefold, NFKD, every combining mark (\p{M})
  // dropped, so "ブ" and "フ" + U+3099 are one. JavaScript has no casefold: toLowerCase plus
  // the two foldings it lacks in the catalog's scripts (ß → ss, final ς → σ).
  function fold(s) {
    return s.toLowerCase().replace(/ß/g, "ss").replace(/ς/g, "σ")
      .normalize("NFKD").replace(/\p{M}/gu, "").trim();
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

  const lastHtml = new WeakMap(); // what each block was last given, to skip unchanged answers

  // A block is replaced only when its HTML changed, and never while focus is inside it:
  // replacing the focused link would drop a keyboard user back to the top of the page. It is
  // refreshed on the first round after focus leaves.
  async function refreshOne(live) {
    const url = live.dataset.live;
    const sep = url.includes("?") ? "&" : "?";
    try {
      const res = await fetch(url + sep + "live=" + live.dataset.block, {
        headers: { accept: "text/html" },
      });
      if (!res.ok) return;
      const html = await res.text();
      if (html === lastHtml.get(live) || live.contains(document.activeElement)) return;
      const before = live.querySelector("[data-state]");
      live.innerHTML = html;
      lastHtml.set(live, html);
      localize(live);
      announce(before, live.querySelector("[data-state]"));
    } catch (e) {
      /* offline for a moment: the next round tries again */
    }
  }

  // The headline's status, said once when it changes (not its counts on every refresh).
  function announce(before, after) {
    const region = document.getElementById("announce");
    if (!region || !before || !after || before.dataset.state === after.dataset.state) return;
    const heading = after.querySelector("h1");
    region.textContent = heading ? heading.textContent.replace(/\s+/g, " ").trim() : "";
  }

  async function refresh() {
    await Promise.all([...document.querySelectorAll("[data-live]")].map(refreshOne));
    document.dispatchEvent(new Event("panne:refreshed"));
  }

  // The button is never `disabled` while a report is on its way or just sent: a disabled
  // button loses focus (to the page's top, for a keyboard or screen-reader user). It says
  // aria-disabled instead, and a second press in that time sends nothing.
  function setupReport() {
    const form = document.querySelector("form[data-report]");
    if (!form) return;
    const feedback = form.querySelector(".feedback");
    const button = form.querySelector("button[type=submit]");
    let busy = false;
    const say = (key) => { feedback.textContent = feedback.dataset[key]; };
    form.noValidate = true; // the script says what is missing, in the page's language
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (busy) return;
      const choice = form.querySelector("input[name=problem]:checked");
      if (!choice) { say("choose"); return; }
      busy = true;
      button.setAttribute("aria-disabled", "true");
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
        setTimeout(() => { busy = false; button.removeAttribute("aria-disabled"); }, 5000);
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
