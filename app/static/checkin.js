/* Check-in without waiting for the network.
 *
 * Each tap on "Présent·e" / "Absent·e" / "Non pointé·e" (the undo) shows at once and is sent with fetch(), stamped with the
 * time it was made (Date.now()). The server keeps the newest tap per person, so a retried request
 * or a late one never undoes a later tap. Taps not yet accepted are kept in sessionStorage and
 * sent again until they get through (also after a reload). Without this script, each button
 * posts its form and the page comes back: the page works the same.
 */
(function () {
  "use strict";

  var root = document.getElementById("pointage");
  if (!root || !window.fetch || !window.URLSearchParams) { return; }

  var statusLine = document.getElementById("checkin-status");
  var storageKey = "pointage:" + root.getAttribute("data-workshop");
  var UNMARKED = "unmarked";  // the undo: what the "Non pointé·e" button sends
  var pending = load();   // registration id -> {url, presence, tape}: taps not yet accepted
  var sending = {};       // registration id -> true while a request is out
  var newest = {};        // registration id -> time of the newest tap made on this page
  var accepted = {};      // registration id -> presence the server last confirmed
  var retryTimer = null;
  var retryDelay = 1000;
  var MAX_RETRY_DELAY = 15000;

  function formOf(id) {
    return root.querySelector('form[data-checkin-mark="' + id + '"]');
  }

  function shownPresence(form) {
    var pressed = form.querySelector('button[aria-pressed="true"]');
    return pressed && pressed.value !== UNMARKED ? pressed.value : null;
  }

  /* presence: "present", "absent", or null (unmarked). */
  function show(id, presence) {
    var form = formOf(id);
    if (!form) { return; }
    form.querySelectorAll("button[name=presence]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.value === (presence || UNMARKED) ? "true" : "false");
    });
    var row = form.closest(".checkin-person");
    row.classList.remove("is-present", "is-absent");
    if (presence) { row.classList.add("is-" + presence); }
    recount();
  }

  /* The figures at the top, from what the page shows. */
  function recount() {
    var all = root.querySelectorAll(".checkin-person");
    var expected = root.querySelectorAll("[data-expected] .checkin-person");
    var present = 0, absent = 0, unmarked = 0;
    all.forEach(function (row) {
      if (row.classList.contains("is-present")) { present += 1; }
      if (row.classList.contains("is-absent")) { absent += 1; }
    });
    expected.forEach(function (row) {
      if (!row.classList.contains("is-present") && !row.classList.contains("is-absent")) { unmarked += 1; }
    });
    setCount("present", present);
    setCount("absent", absent);
    setCount("unmarked", unmarked);
  }

  function setCount(name, value) {
    var cell = root.querySelector('[data-count="' + name + '"]');
    if (cell) { cell.textContent = String(value); }
  }

  function say(text) {
    statusLine.textContent = text;
  }

  function load() {
    try {
      return JSON.parse(window.sessionStorage.getItem(storageKey)) || {};
    } catch (error) {
      return {};
    }
  }

  function save() {
    try {
      if (Object.keys(pending).length) {
        window.sessionStorage.setItem(storageKey, JSON.stringify(pending));
      } else {
        window.sessionStorage.removeItem(storageKey);
      }
    } catch (error) { /* private browsing: the taps live as long as the page */ }
  }

  function csrfToken() {
    var field = root.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function nameOf(id) {
    var name = document.getElementById("nom-" + id);
    return name ? name.textContent.trim() : "";
  }

  function tap(form, presence) {
    var id = form.getAttribute("data-checkin-mark");
    var when = Date.now();
    newest[id] = when;
    pending[id] = { url: form.action, presence: presence, tape: when };
    save();
    show(id, presence === UNMARKED ? null : presence);
    send(id);
  }

  function send(id) {
    var sent = pending[id];
    if (!sent || sending[id]) { return; }
    sending[id] = true;
    var body = new URLSearchParams();
    body.set("presence", sent.presence);
    body.set("tape", String(sent.tape));
    fetch(sent.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",  // a lost session redirects to the login page: say so instead
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      if (response.type === "opaqueredirect") {
        return { expired: true };
      }
      return response.json().then(function (data) {
        return { response: response, data: data };
      }, function () {
        return { response: response, data: null };
      });
    }).then(function (answer) {
      sending[id] = false;
      if (answer.expired) {
        say("Votre session a expiré : reconnectez-vous, puis revenez sur cette page. Les pointages en attente seront envoyés.");
        return;
      }
      var status = answer.response.status;
      if (answer.response.ok) {
        done(id, sent, answer.data);
      } else if (status >= 500 || status === 429 || status === 408) {
        retryLater();
      } else {
        refused(id, sent, answer.data, status);
      }
    }, function () {
      sending[id] = false;
      retryLater();
    });
  }

  function done(id, sent, data) {
    if (pending[id] && pending[id].tape === sent.tape) {
      delete pending[id];
      save();
    }
    if (data && "presence" in data) {
      accepted[id] = data.presence;
      // A late answer about an older tap must not undo what the trainer tapped since.
      if (data.tape >= (newest[id] || 0)) { show(id, data.presence); }
    }
    retryDelay = 1000;
    if (Object.keys(pending).length) {
      sendAll();
    } else {
      var name = nameOf(id);
      say("Enregistré" + (name && data ? " — " + name + " : " + presenceText(data.presence) : ""));
    }
  }

  function presenceText(presence) {
    if (presence === "present") { return "présent·e"; }
    return presence === "absent" ? "absent·e" : "non pointé·e";
  }

  function refused(id, sent, data, status) {
    if (pending[id] && pending[id].tape === sent.tape) {
      delete pending[id];
      save();
    }
    var message = data && data.error;
    if (!message) {
      message = status === 400
        ? "La page a expiré : rechargez-la, puis recommencez ce pointage."
        : "Ce pointage a été refusé : rechargez la page.";
    }
    say(message);
    if (!pending[id]) { show(id, accepted[id] || null); }
  }

  function retryLater() {
    say("Hors ligne, nouvel essai…");
    if (retryTimer) { return; }
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      sendAll();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY);
  }

  function sendAll() {
    Object.keys(pending).forEach(send);
  }

  // What the server said when the page was built.
  root.querySelectorAll("form[data-checkin-mark]").forEach(function (form) {
    accepted[form.getAttribute("data-checkin-mark")] = shownPresence(form);
  });

  root.addEventListener("click", function (event) {
    var button = event.target.closest("form[data-checkin-mark] button[name=presence]");
    if (!button) { return; }
    event.preventDefault();
    tap(button.form, button.value);
  });

  // Closing with taps still on their way would have them refused: wait for them first.
  root.addEventListener("click", function (event) {
    if (!event.target.closest("[data-checkin-close]") || !Object.keys(pending).length) { return; }
    event.preventDefault();
    say("Des pointages ne sont pas encore enregistrés : attendez « Enregistré » avant de clore la séance.");
  });

  window.addEventListener("online", function () {
    retryDelay = 1000;
    sendAll();
  });

  // Taps left from before a reload: shown, and sent again (their time is kept).
  Object.keys(pending).forEach(function (id) {
    if (formOf(id)) {
      newest[id] = pending[id].tape;
      show(id, pending[id].presence === UNMARKED ? null : pending[id].presence);
    }
  });
  sendAll();
}());
