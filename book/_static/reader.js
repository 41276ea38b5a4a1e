// Reader-facing behaviour of "Collapse, Reproduced" (added by book/_ext/reader.py); served by the site, no network.
//
// 1. Click (or Enter/Space on) a figure to see it full size: at least its natural size, larger when the window
//    allows (up to twice); on a narrow screen it scrolls. Escape, a click or the close button closes it.
// 2. Display equations a little wider than their column are shrunk to fit, down to MIN_MATH_SCALE of their size;
//    wider ones keep their size and scroll inside their own box. <html data-math-fit="done"> once done.
(function () {
  "use strict";

  const FIGURES = ".bd-article figure img, .bd-article .cell_output img, .bd-article .glued-figure img";
  const MIN_MATH_SCALE = 0.8;

  function zoomWidth(img) {
    const natural = img.naturalWidth;
    const room = Math.min(window.innerWidth - 16, (window.innerHeight - 48) * natural / img.naturalHeight);
    return Math.max(natural, Math.min(room, 2 * natural));
  }

  function openZoom(img) {
    const overlay = document.createElement("div");
    overlay.className = "figure-zoom";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "Figure, full size");
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt;
    big.style.width = zoomWidth(img) + "px";
    const close = document.createElement("button");
    close.className = "figure-zoom-close";
    close.type = "button";
    close.setAttribute("aria-label", "Close the full-size figure");
    close.textContent = "×";
    overlay.append(close, big);
    document.body.append(overlay);
    document.body.classList.add("figure-zoom-open");
    const shut = () => {
      overlay.remove();
      document.body.classList.remove("figure-zoom-open");
      document.removeEventListener("keydown", onKey);
      img.focus();
    };
    const onKey = (e) => { if (e.key === "Escape") { shut(); } };
    overlay.addEventListener("click", shut);
    document.addEventListener("keydown", onKey);
    close.focus();
  }

  function setUpZoom() {
    document.querySelectorAll(FIGURES).forEach((img) => {
      const link = img.closest("a");
      if (link && !link.classList.contains("image-reference")) { return; }  // a link elsewhere stays a link
      if (link) { link.addEventListener("click", (e) => e.preventDefault()); }  // a link to the image itself
      img.classList.add("zoomable");
      img.tabIndex = 0;
      img.setAttribute("role", "button");
      img.title = "Click to see the figure full size";
      img.addEventListener("click", () => openZoom(img));
      img.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openZoom(img); }
      });
    });
  }

  function fitMath() {
    document.querySelectorAll('div.math mjx-container[display="true"]').forEach((box) => {
      if (box.dataset.fontSize === undefined) { box.dataset.fontSize = box.style.fontSize || "100%"; }
      const base = parseFloat(box.dataset.fontSize);  // MathJax's own scaling of this equation, in percent
      box.style.fontSize = box.dataset.fontSize;
      box.classList.remove("math-shrunk", "math-too-wide");
      const need = box.scrollWidth, have = box.clientWidth;
      if (need <= have + 0.5) { return; }
      const scale = Math.floor((have / need) * 1000) / 1000;
      if (scale >= MIN_MATH_SCALE) {
        box.style.fontSize = (base * scale) + "%";
        box.classList.add("math-shrunk");
      } else {
        box.classList.add("math-too-wide");
      }
    });
    document.documentElement.dataset.mathFit = "done";
  }

  function whenMathJaxDone(then) {
    if (!document.querySelector(".math")) { then(); return; }
    const start = Date.now();
    (function poll() {
      const mj = window.MathJax;
      if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(then); }
      else if (Date.now() - start < 20000) { setTimeout(poll, 50); }
    })();
  }

  function start() {
    setUpZoom();
    whenMathJaxDone(fitMath);
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => whenMathJaxDone(fitMath), 150);
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
