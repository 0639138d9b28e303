/* Phone layout (clinic.css, "Phone"): a table shown as stacked rows names each value by its
   column's header. Rows htmx swaps in (an export's progress) are labelled as they settle. Without
   this script a table scrolls sideways inside its own box instead. */
(function () {
  "use strict";

  function labelTable(table) {
    const headers = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent.trim());
    if (headers.length === 0) return;
    for (const row of table.querySelectorAll("tbody tr")) {
      let column = 0;
      for (const cell of row.cells) {
        if (headers[column] && cell.colSpan === 1 && !cell.dataset.label) {
          cell.dataset.label = headers[column];
        }
        column += cell.colSpan;
      }
    }
    table.classList.add("labelled");
  }

  function labelTables() {
    document.querySelectorAll("table").forEach(labelTable);
  }

  document.addEventListener("DOMContentLoaded", labelTables);
  document.addEventListener("htmx:afterSettle", labelTables);
})();
