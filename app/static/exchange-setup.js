// The half-day's setup form: a suggested date fills the day field; the suggestions and rooms
// shown follow the chosen school year and site.
(function () {
  var day = document.getElementById("jour");
  document.querySelectorAll(".date-choice").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      day.value = link.dataset.date;
      day.focus();
    });
  });
  function only(selector, attribute, value) {
    document.querySelectorAll(selector).forEach(function (element) {
      var shown = value === null || element.getAttribute(attribute) === value;
      element.hidden = !shown;
      if (element.tagName === "FIELDSET") element.disabled = !shown;
    });
  }
  var year = document.getElementById("annee");
  var site = document.getElementById("site");
  function update() {
    if (year) only("[data-suggestions-year]", "data-suggestions-year", year.value);
    if (site) only("[data-site]", "data-site", site.value);
  }
  if (year) year.addEventListener("change", update);
  if (site) site.addEventListener("change", update);
  update();
})();
