// Every page's forms. After a refused submission, take keyboard and screen-reader users to the
// list of errors; a form marked data-once sends once on a double click (the server tolerates a
// second one anyway: it is only a courtesy).
(function () {
  // A form marked data-focus-invalid takes them to its first refused field rather than the list.
  var summary = document.querySelector('[data-focus-invalid] [aria-invalid="true"]') ||
    document.getElementById('erreurs');
  if (summary) { summary.focus(); }
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
})();
