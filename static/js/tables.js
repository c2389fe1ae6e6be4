// Narrow screens show each table row as a card (app.css): give every cell its column's
// name to show above it. Runs again after htmx swaps in a table (the live queue and jobs).
(function () {
  const label = (root) => {
    root.querySelectorAll("table").forEach((table) => {
      const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
      if (!names.length) return;
      table.querySelectorAll("tbody tr").forEach((row) => {
        [...row.children].forEach((cell, i) => {
          if (names[i] && !cell.hasAttribute("colspan")) cell.dataset.label = names[i];
        });
      });
    });
  };
  label(document);
  document.body.addEventListener("htmx:afterSettle", (event) => label(event.target));
})();
