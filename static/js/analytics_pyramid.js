// Charts of the customer pyramid dashboard, drawn from the numbers its tables also show.
(() => {
  const source = document.getElementById("pyramid-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  // The tier badges' colours (static/css/app.css), VIP first.
  const tierColours = ["#6f42c1", "#0d6efd", "#20c997", "#adb5bd"];
  const number = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 2 });
  const percent = (value) => (value === null || value === undefined ? "—" : `${number.format(value)} %`);

  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  };

  // A bar centred on zero, so that the tiers stack into a pyramid (counts) or an inverted one (value).
  const pyramid = (id, values, percents, label) => {
    draw(id, {
      type: "bar",
      data: {
        labels: data.tiers.labels,
        datasets: [
          {
            label,
            data: values.map((value) => [-value / 2, value / 2]),
            backgroundColor: tierColours,
            barPercentage: 1,
            categoryPercentage: 0.92,
          },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { display: false }, y: { grid: { display: false } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (context) => `${label}: ${number.format(values[context.dataIndex])} (${percent(percents[context.dataIndex])})`,
            },
          },
        },
      },
    });
  };

  pyramid("pyramid-chart", data.tiers.customers, data.tiers.customerPercents, data.tiers.customersLabel);
  pyramid("value-chart", data.tiers.values, data.tiers.valuePercents, data.tiers.valueLabel);

  draw("pareto-chart", {
    type: "scatter",
    data: {
      datasets: [
        {
          label: data.pareto.curveLabel,
          data: data.pareto.points,
          showLine: true,
          borderColor: "#6f42c1",
          backgroundColor: "#6f42c1",
          pointRadius: 0,
          pointHitRadius: 6,
        },
        {
          label: data.pareto.evenLabel,
          data: [
            { x: 0, y: 0 },
            { x: 100, y: 100 },
          ],
          showLine: true,
          borderColor: "#adb5bd",
          borderDash: [6, 4],
          pointRadius: 0,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { type: "linear", min: 0, max: 100, title: { display: true, text: data.pareto.xLabel } },
        y: { suggestedMin: 0, suggestedMax: 100, title: { display: true, text: data.pareto.yLabel } },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: { label: (context) => `${percent(context.parsed.x)} → ${percent(context.parsed.y)}` },
        },
      },
    },
  });

  draw("segment-chart", {
    type: "bar",
    data: {
      labels: data.segments.labels,
      datasets: [{ label: data.segments.customersLabel, data: data.segments.customers, backgroundColor: "#0d6efd" }],
    },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
