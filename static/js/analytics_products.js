// Product analysis page: the two charts (from the numbers the tables also show) and sortable tables.
(() => {
  // Sortable tables: each header with data-sort becomes a button; rows sort on the cells'
  // data-sort-value (numbers or text). Empty values ("—") always go last.
  const collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });

  const sortTable = (table, index, kind, button) => {
    const header = button.closest("th");
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach((th) => th.removeAttribute("aria-sort"));
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const valueOf = (row) => row.cells[index].dataset.sortValue ?? row.cells[index].textContent.trim();
    rows.sort((a, b) => {
      const x = valueOf(a);
      const y = valueOf(b);
      if (x === "" || y === "") return x === y ? 0 : x === "" ? 1 : -1;
      const order = kind === "number" ? Number(x) - Number(y) : collator.compare(x, y);
      return ascending ? order : -order;
    });
    rows.forEach((row) => body.appendChild(row));
  };

  document.querySelectorAll("table.sortable-table").forEach((table) => {
    table.querySelectorAll("thead th[data-sort]").forEach((th, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-link btn-sm p-0 text-reset fw-semibold text-decoration-none sort-button";
      button.append(...th.childNodes);
      th.appendChild(button);
      button.addEventListener("click", () => sortTable(table, index, th.dataset.sort, button));
    });
  });

  const source = document.getElementById("products-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const palette = ["#0d6efd", "#198754", "#ffc107", "#dc3545", "#6f42c1", "#20c997", "#fd7e14", "#0dcaf0", "#6c757d", "#d63384"];

  const composition = document.getElementById("composition-chart");
  if (composition && data.composition.labels.length) {
    new window.Chart(composition, {
      type: "doughnut",
      data: {
        labels: data.composition.labels,
        datasets: [
          {
            data: data.composition.revenue,
            backgroundColor: data.composition.labels.map((_label, i) => palette[i % palette.length]),
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: (item) => {
                const total = item.dataset.data.reduce((sum, value) => sum + value, 0);
                const share = total ? ((100 * item.parsed) / total).toFixed(1) : "0";
                return `${item.label}: ${item.parsed.toLocaleString()} (${share}%)`;
              },
            },
          },
        },
      },
    });
  }

  const margins = document.getElementById("margin-chart");
  if (margins && data.margins.labels.length) {
    new window.Chart(margins, {
      type: "bar",
      data: {
        labels: data.margins.labels,
        datasets: [
          { label: data.margins.marginLabel, data: data.margins.margin, backgroundColor: "#0d6efd", xAxisID: "x" },
          { label: data.margins.turnoverLabel, data: data.margins.turnover, backgroundColor: "#ffc107", xAxisID: "x2" },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { position: "bottom", title: { display: true, text: data.margins.marginLabel } },
          x2: { position: "top", grid: { drawOnChartArea: false }, title: { display: true, text: data.margins.turnoverLabel } },
          y: { ticks: { autoSkip: false } },
        },
      },
    });
  }
})();
