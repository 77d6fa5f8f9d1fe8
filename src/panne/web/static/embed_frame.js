// Inside the report widget's iframe: tell the embedding page (embed.js) how tall the widget is,
// so the frame fits it with no scroll bar. The height says nothing private, and the parent's
// origin is unknown here, so it goes to any parent; embed.js checks who sent it.
"use strict";
(function () {
  if (window.parent === window) return;
  let last = 0;
  function post() {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ panne: "height", value: height }, "*");
  }
  document.addEventListener("DOMContentLoaded", () => {
    post();
    new ResizeObserver(post).observe(document.documentElement);
  });
})();
