// faka: small progressive enhancement. Every page works without this file;
// it adds copy buttons, live countdowns and confirmations. The CSP allows
// scripts from our own origin only, so nothing here is inline.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "offscreen";
      document.body.appendChild(ta);
      ta.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy failed"));
      } catch (e) {
        reject(e);
      }
      document.body.removeChild(ta);
    });
  }

  function setupCopy(btn) {
    btn.hidden = false;
    var label = btn.textContent;
    btn.addEventListener("click", function () {
      copyText(btn.getAttribute("data-copy")).then(function () {
        btn.textContent = btn.getAttribute("data-copied") || "✓";
        btn.classList.add("done");
        setTimeout(function () {
          btn.textContent = label;
          btn.classList.remove("done");
        }, 1500);
      });
    });
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function setupCountdown(el) {
    var deadline = parseInt(el.getAttribute("data-deadline"), 10);
    if (!deadline) return;
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      el.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      if (left === 0) {
        el.textContent = el.getAttribute("data-expired") || "0:00";
        clearInterval(timer);
        setTimeout(function () { window.location.reload(); }, 2000);
      }
    }
    var timer = setInterval(tick, 1000);
    tick();
  }

  function setupConfirm(form) {
    form.addEventListener("submit", function (ev) {
      // A button with its own formaction (such as "reveal") is another action.
      if (ev.submitter && ev.submitter.hasAttribute("formaction")) return;
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  }

  function setupSelectAll(box) {
    box.hidden = false;
    box.addEventListener("change", function () {
      var boxes = document.querySelectorAll("input[name='" + box.getAttribute("data-select-all") + "']");
      for (var i = 0; i < boxes.length; i++) if (!boxes[i].disabled) boxes[i].checked = box.checked;
    });
  }

  // The shop's notice is a <details> open by default: without this file a
  // buyer folds it away by its summary. Here the fold is remembered for
  // this notice's text (data-notice), so it stays closed on later visits
  // until the merchant writes a new one.
  function setupNotice(el) {
    var key = "faka.notice.closed";
    var id = el.getAttribute("data-notice");
    try {
      if (window.localStorage.getItem(key) === id) el.open = false;
    } catch (e) { /* storage off: the notice just shows */ }
    el.addEventListener("toggle", function () {
      try {
        if (el.open) window.localStorage.removeItem(key);
        else window.localStorage.setItem(key, id);
      } catch (e) { /* storage off */ }
    });
  }

  // The product page's total: quantity × unit price, written as the
  // server writes money (symbol or code, minor digits). An out-of-range
  // quantity shows a dash; the server checks it anyway.
  function setupTotal(out) {
    var form = out.form || out.closest("form");
    var input = form && form.querySelector("[data-total-quantity]");
    if (!input) return;
    var unit = parseInt(out.getAttribute("data-unit"), 10);
    var digits = parseInt(out.getAttribute("data-digits"), 10) || 0;
    function format(minor) {
      var s = String(minor);
      if (digits > 0) {
        while (s.length <= digits) s = "0" + s;
        s = s.slice(0, s.length - digits) + "." + s.slice(s.length - digits);
      }
      return out.getAttribute("data-prefix") + s + out.getAttribute("data-suffix");
    }
    function update() {
      var q = Number(input.value);
      var min = Number(input.min) || 1, max = Number(input.max) || Infinity;
      out.textContent = Number.isInteger(q) && q >= min && q <= max ? format(unit * q) : "—";
    }
    input.addEventListener("input", update);
    update();
  }

  function each(sel, fn) {
    var els = document.querySelectorAll(sel);
    for (var i = 0; i < els.length; i++) fn(els[i]);
  }

  document.addEventListener("DOMContentLoaded", function () {
    each("[data-copy]", setupCopy);
    each("[data-deadline]", setupCountdown);
    each("form[data-confirm]", setupConfirm);
    each("[data-select-all]", setupSelectAll);
    each("details[data-notice]", setupNotice);
    each("output[data-total]", setupTotal);
  });
})();
