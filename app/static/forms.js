// Every page's forms. After a refused submission, take keyboard and screen-reader users to the
// list of errors; a form marked data-once sends once on a double click (the server tolerates a
// second one anyway: it is only a courtesy).
(function () {
  // A form marked data-focus-invalid takes them to its first refused field rather than the list.
  var summary = document.querySelector('[data-focus-invalid] [aria-invalid="true"]') ||
    document.getElementById('erreurs');
  if (summary) { summary.focus(); }
  // A link of the error summary shows its whole field (label, hint, message), not only the
  // input at the top edge of the screen.
  document.querySelectorAll('.error-summary a[href^="#"]').forEach(function (link) {
    link.addEventListener('click', function (event) {
      var target = document.getElementById(link.getAttribute('href').slice(1));
      if (!target) { return; }
      event.preventDefault();
      (target.closest('.field') || target).scrollIntoView({ block: 'start' });
      target.focus({ preventScroll: true });
    });
  });
  document.querySelectorAll('[data-print]').forEach(function (button) {
    button.addEventListener('click', function () { window.print(); });
  });
  // Folded on a phone, open on a wider screen (the catalogue's filters).
  if (window.matchMedia('(min-width: 40rem)').matches) {
    document.querySelectorAll('details[data-open-wide]').forEach(function (details) { details.open = true; });
  }
  document.querySelectorAll('form[data-once]').forEach(function (form) {
    form.addEventListener('submit', function () {
      var button = form.querySelector('button[type=submit]');
      if (button) {
        setTimeout(function () { button.disabled = true; button.setAttribute('aria-busy', 'true'); }, 0);
      }
    });
  });
  // The workshop form's "Ce jour-là" panel follows the date, the room and the trainer chosen
  // (without script, it shows what they held when the page was sent).
  document.querySelectorAll('form[data-that-day]').forEach(function (form) {
    var panel = document.getElementById('ce-jour-la');
    var refresh = function () {
      var query = new URLSearchParams(form.getAttribute('data-that-day').split('?')[1] || '');
      ['jour', 'salle', 'formateur'].forEach(function (name) {
        query.set(name, form.elements[name].value);
      });
      fetch(form.getAttribute('data-that-day').split('?')[0] + '?' + query, { credentials: 'same-origin' })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null && panel) { panel.innerHTML = html; } });
    };
    ['jour', 'salle', 'formateur'].forEach(function (name) {
      if (form.elements[name]) { form.elements[name].addEventListener('change', refresh); }
    });
  });
})();
