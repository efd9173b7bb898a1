// Every page's data tables (class "table" with a header row). On a phone, or wherever a table is
// wider than its column (its words kept whole), it is read as a stack of cards, one per row: each
// cell names its column (data-label, shown by the CSS), so no column is squeezed until its words
// break and the page never scrolls sideways. Without this script a narrow table scrolls inside
// its own box instead.
(function () {
  var tables = [];
  document.querySelectorAll('table.table').forEach(function (table) {
    var headRow = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!headRow) { return; }
    var names = [];
    Array.prototype.forEach.call(headRow.cells, function (cell) {
      for (var i = 0; i < cell.colSpan; i++) { names.push(cell.textContent.trim()); }
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (cell.colSpan === 1 && names[column] && !cell.hasAttribute('data-label')) {
            cell.setAttribute('data-label', names[column]);
          }
          column += cell.colSpan;
        });
      });
    });
    table.setAttribute('data-stack', '');
    tables.push(table);
  });

  var phone = window.matchMedia('(max-width: 40rem)');
  function fit() {
    tables.forEach(function (table) {
      table.classList.remove('table-cards');
      var wide = table.getBoundingClientRect().width > table.parentElement.clientWidth;
      if (phone.matches || wide) { table.classList.add('table-cards'); }
    });
  }
  var pending = false;
  window.addEventListener('resize', function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; fit(); });
  });
  fit();
})();
