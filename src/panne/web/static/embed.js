// panne's report widget, for other sites. Include it where the widget should appear:
//   <script src="https://panne.example/embed.js" data-service="facebook" async></script>
// It adds an iframe of panne's /embed/SERVICE page (data-lang, else the page's <html lang>)
// right after this script tag, and sizes it from the height the widget posts. The report is
// sent from inside the iframe, whose origin is panne's: this page never sees or sends it.
// panne shows the widget only on sites listed in its embed_origins setting.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.service) return;
  var origin = new URL(script.src, document.baseURI).origin;
  var lang = (script.dataset.lang || document.documentElement.lang || "").split(/[-_]/)[0];
  var src = origin + "/embed/" + encodeURIComponent(script.dataset.service);
  if (lang) src += "?lang=" + encodeURIComponent(lang.toLowerCase());

  var frame = document.createElement("iframe");
  frame.src = src;
  frame.title = script.dataset.title || "panne: " + script.dataset.service;
  frame.setAttribute("data-panne", script.dataset.service);
  frame.style.border = "0";
  frame.style.width = "100%";
  frame.style.maxWidth = script.dataset.width || "32rem";
  frame.style.height = "16rem"; // until the widget says how tall it is
  script.parentNode.insertBefore(frame, script.nextSibling);

  window.addEventListener("message", function (event) {
    // Only this frame's own messages: the right origin, and this very iframe (a page may
    // hold several widgets, and any frame can post a message to it).
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.panne !== "height" || typeof data.value !== "number") return;
    var height = Math.max(40, Math.min(Math.round(data.value), 2000));
    frame.style.height = height + "px";
  });
})();
