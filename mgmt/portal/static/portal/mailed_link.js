// The pages that mailed links open. A link carries its secret in the fragment (#...),
// which the browser sends to no server and puts in no Referer. This script moves it into
// the page's form, takes it out of the address bar and the history entry, and posts it
// in the request body. Without the script, the form asks for the code from the mail.
(function () {
  "use strict";

  function takeFragment() {
    var fragment = window.location.hash.slice(1);
    if (window.location.hash) {
      // The same entry without its fragment: Back, bookmarks and history never see it.
      window.history.replaceState(
        window.history.state, "", window.location.pathname + window.location.search
      );
    }
    try {
      return decodeURIComponent(fragment).trim();
    } catch (error) {
      return fragment.trim();
    }
  }

  function stored(key) {
    try {
      return key ? window.sessionStorage.getItem(key) || "" : "";
    } catch (error) {
      return "";  // storage refused (private mode, a policy): the link still works once
    }
  }

  function store(key, value) {
    try {
      if (value) {
        window.sessionStorage.setItem(key, value);
      } else {
        window.sessionStorage.removeItem(key);
      }
    } catch (error) {
      // nothing kept: the invitee opens the mailed link again after logging in
    }
  }

  function start() {
    var fromLink = takeFragment();

    // A link of the older shape (secret in the path): the address bar forgets it.
    var clean = document.querySelector("[data-clean-url]");
    if (clean) {
      window.history.replaceState(null, "", clean.getAttribute("data-clean-url"));
    }

    document.querySelectorAll("[data-forget-code]").forEach(function (element) {
      store(element.getAttribute("data-forget-code"), "");
    });

    document.querySelectorAll("form[data-mailed-form]").forEach(function (form) {
      var field = form.querySelector("[data-mailed-code]");
      if (!field) {
        return;
      }
      // An invitation's code waits in this tab while its invitee logs in or signs up.
      var keep = form.getAttribute("data-keep-code");
      if (keep && fromLink) {
        store(keep, fromLink);
      }
      var code = fromLink || stored(keep);
      if (code && !field.value) {
        field.value = code;
      }
      if (!field.value) {
        return;  // no link, nothing kept: the visitor pastes the code
      }
      var paste = form.querySelector("[data-code-paste]");
      if (paste) {
        paste.hidden = true;
      }
      var found = form.querySelector("[data-code-found]");
      if (found) {
        found.hidden = false;
      }
      if (code && form.hasAttribute("data-submit-code")) {
        form.submit();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
