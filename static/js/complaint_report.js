// Charts and the print button of the monthly complaint report (no inline script: CSP).
(function () {
  "use strict";

  function init() {
    var printButton = document.querySelector("[data-print]");
    if (printButton) {
      printButton.addEventListener("click", function () { window.print(); });
    }
    var source = document.getElementById("report-charts");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var current = data.labels.current;
    var previous = data.labels.previous;
    var blue = "rgba(13, 110, 253, 0.8)";
    var grey = "rgba(173, 181, 189, 0.8)";
    var palette = ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#dc3545", "#ffc107", "#6c757d"];
    // Printing resizes the page: let the charts follow it.
    var common = { responsive: true, maintainAspectRatio: false, animation: false };

    function bars(id, series, horizontal) {
      var canvas = document.getElementById(id);
      if (!canvas || !series.labels.length) {
        return;
      }
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: series.labels,
          datasets: [
            { label: current, data: series.current, backgroundColor: blue },
            { label: previous, data: series.previous, backgroundColor: grey }
          ]
        },
        options: Object.assign({}, common, {
          indexAxis: horizontal ? "y" : "x",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } }
        })
      });
    }

    bars("chart-category", data.category, true);
    bars("chart-priority", data.priority, false);
    var channel = document.getElementById("chart-channel");
    if (channel && data.channel.labels.length) {
      new Chart(channel, {
        type: "doughnut",
        data: {
          labels: data.channel.labels,
          datasets: [{ label: current, data: data.channel.current, backgroundColor: palette }]
        },
        options: Object.assign({}, common, { plugins: { legend: { position: "bottom" } } })
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
