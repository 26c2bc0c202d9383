// Charts of the sales reports page, drawn from the numbers the page also shows in its tables.
(() => {
  const source = document.getElementById("sales-report-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const common = { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } };

  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  };

  draw("funnel-chart", {
    type: "bar",
    data: {
      labels: data.funnel.labels,
      datasets: [{ label: data.funnel.countLabel, data: data.funnel.counts, backgroundColor: "#0d6efd" }],
    },
    options: { ...common, indexAxis: "y", plugins: { legend: { display: false } } },
  });

  draw("forecast-chart", {
    type: "bar",
    data: {
      labels: data.forecast.labels,
      datasets: [
        { label: data.forecast.weightedLabel, data: data.forecast.weighted, backgroundColor: "#198754" },
        { label: data.forecast.amountLabel, data: data.forecast.amount, backgroundColor: "#adb5bd" },
      ],
    },
    options: common,
  });

  draw("leaderboard-chart", {
    type: "bar",
    data: {
      labels: data.leaderboard.labels,
      datasets: [
        { label: data.leaderboard.actualLabel, data: data.leaderboard.actual, backgroundColor: "#0d6efd" },
        { label: data.leaderboard.targetLabel, data: data.leaderboard.target, backgroundColor: "#ffc107" },
      ],
    },
    options: common,
  });
})();
