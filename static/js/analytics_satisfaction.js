// Charts of the satisfaction dashboard, drawn from the numbers the page also shows in its tables.
(() => {
  const source = document.getElementById("satisfaction-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const legend = { legend: { position: "bottom" } };

  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  };

  // NPS runs from −100 to 100, mean satisfaction from 1 to 5: one axis each.
  draw("monthly-chart", {
    type: "line",
    data: {
      labels: data.monthly.labels,
      datasets: [
        {
          label: data.monthly.npsLabel,
          data: data.monthly.nps,
          borderColor: "#0d6efd",
          backgroundColor: "#0d6efd",
          yAxisID: "nps",
          pointRadius: 4,
          tension: 0.2,
        },
        {
          label: data.monthly.satisfactionLabel,
          data: data.monthly.satisfaction,
          borderColor: "#fd7e14",
          backgroundColor: "#fd7e14",
          yAxisID: "satisfaction",
          pointRadius: 4,
          tension: 0.2,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: legend,
      scales: {
        nps: { position: "left", min: -100, max: 100, title: { display: true, text: data.monthly.npsLabel } },
        satisfaction: { position: "right", min: 1, max: 5, grid: { drawOnChartArea: false } },
      },
    },
  });

  // Expected and perceived as bars on the 1–7 scale; the gap as markers (dimensions are not a sequence)
  // on its own axis around zero.
  draw("gap-chart", {
    type: "bar",
    data: {
      labels: data.gaps.labels,
      datasets: [
        {
          label: data.gaps.expectedLabel,
          data: data.gaps.expected,
          backgroundColor: "#adb5bd",
          yAxisID: "score",
          order: 1,
        },
        {
          label: data.gaps.perceivedLabel,
          data: data.gaps.perceived,
          backgroundColor: "#0d6efd",
          yAxisID: "score",
          order: 1,
        },
        {
          type: "line",
          label: data.gaps.gapLabel,
          data: data.gaps.gap,
          borderColor: "#dc3545",
          backgroundColor: "#dc3545",
          showLine: false,
          pointStyle: "rectRot",
          pointRadius: 7,
          pointHoverRadius: 9,
          yAxisID: "gap",
          // Drawn over the bars.
          order: 0,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: legend,
      scales: {
        score: { position: "left", min: 0, max: 7 },
        gap: { position: "right", suggestedMin: -2, suggestedMax: 2, grace: "10%", grid: { drawOnChartArea: false } },
      },
    },
  });
})();
