// Charts of the churn dashboard, drawn from the numbers the page also shows in its tables.
(() => {
  const source = document.getElementById("churn-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const common = { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } };
  const riskColours = ["#dc3545", "#ffc107", "#198754"];

  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  };

  draw("risk-totals-chart", {
    type: "doughnut",
    data: {
      labels: data.riskTotals.labels,
      datasets: [{ label: data.riskTotals.customersLabel, data: data.riskTotals.customers, backgroundColor: riskColours }],
    },
    options: common,
  });

  draw("p-alive-chart", {
    type: "bar",
    data: {
      labels: data.pAlive.labels,
      datasets: [{ label: data.pAlive.label, data: data.pAlive.counts, backgroundColor: "#0d6efd" }],
    },
    options: { ...common, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  draw("churn-rate-chart", {
    type: "line",
    data: {
      labels: data.churnRate.labels,
      datasets: [
        { label: data.churnRate.label, data: data.churnRate.percent, borderColor: "#dc3545", backgroundColor: "#dc3545", spanGaps: true, tension: 0 },
      ],
    },
    options: { ...common, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
})();
