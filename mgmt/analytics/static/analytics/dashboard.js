// The API owner's dashboard, without a library: (1) on admin's landing page, fetch the
// server-rendered dashboard panel into the page; (2) every 2 s, replace each "throttled
// right now" list with a fresh server-rendered copy, so a flood shows within seconds
// without a reload. The HTML comes from our own staff-only, autoescaped Django views.
(function () {
  "use strict";

  var POLL_MS = 2000;

  function sameOrigin(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
      cache: "no-store",
    }).then(function (response) {
      // A lapsed session redirects to the login page: that is not a fragment.
      if (!response.ok || response.redirected) {
        throw new Error("HTTP " + response.status);
      }
      return response.text();
    });
  }

  function clock() {
    return new Date().toLocaleTimeString([], { hour12: false });
  }

  function pollThrottled(box) {
    var url = box.getAttribute("data-throttled-url");
    var body = box.querySelector("[data-throttled-body]");
    var status = box.querySelector("[data-throttled-status]");
    if (!url || !body) {
      return;
    }
    var timer = null;

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, POLL_MS);
    }

    function refresh() {
      if (document.hidden) {
        return; // resumed by visibilitychange: no polling from a background tab
      }
      sameOrigin(url)
        .then(function (html) {
          body.innerHTML = html;
          box.classList.remove("tg-stale");
          box.setAttribute("data-refreshed", String(Date.now()));
          if (status) {
            status.textContent = "Updated " + clock() + ", every 2 s.";
          }
        })
        .catch(function () {
          box.classList.add("tg-stale");
          if (status) {
            status.textContent = "Not updated since the last success: retrying every 2 s.";
          }
        })
        .then(schedule);
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        refresh();
      }
    });
    schedule();
  }

  function startPolling(root) {
    var boxes = root.querySelectorAll("[data-throttled-url]");
    for (var i = 0; i < boxes.length; i += 1) {
      pollThrottled(boxes[i]);
    }
  }

  function loadPanel(holder) {
    var url = holder.getAttribute("data-panel-url") + window.location.search;
    sameOrigin(url)
      .then(function (html) {
        holder.innerHTML = html;
        holder.setAttribute("aria-busy", "false");
        startPolling(holder);
      })
      .catch(function (error) {
        holder.setAttribute("aria-busy", "false");
        var note = holder.querySelector("[data-panel-status]");
        if (note) {
          note.textContent = "The traffic dashboard could not be loaded (" + error.message + ").";
        }
      });
  }

  function start() {
    var holder = document.querySelector("[data-panel-url]");
    if (holder) {
      loadPanel(holder);
    } else {
      startPolling(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
