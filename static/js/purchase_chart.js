// Purchase history chart of the customer 360 page: monthly revenue (bars) and gross profit (line).
// The figures come from a json_script tag rendered by the panel; the same figures are in its table.
(function () {
  "use strict";

  const canvas = document.getElementById("purchase-history-chart");
  const source = document.getElementById("purchase-history-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const lang = document.documentElement.lang || undefined;
  const money = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });

  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.revenue_label, data: data.revenue, backgroundColor: "rgba(13, 110, 253, 0.6)", order: 2 },
        {
          label: data.profit_label,
          data: data.gross_profit,
          type: "line",
          borderColor: "#198754",
          backgroundColor: "#198754",
          pointRadius: 2,
          tension: 0.2,
          order: 1,
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
        y: { beginAtZero: true, ticks: { callback: (value) => money.format(value) } },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${money.format(item.parsed.y)}` } },
      },
    },
  });
})();
