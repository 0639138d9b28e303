// The outcomes page's charts, drawn from each figure's JSON (research.outcome_figures): a
// Kaplan–Meier curve per group (stepped, the whole cohort with its 95 % band) with the source
// document's 30–40 % relapse drawn as a shaded band, and bars of rates with their 95 % intervals
// beside the published figures. The table under each chart carries the same numbers.
(function () {
  if (!window.Chart) return;
  const COLOURS = ["#1f5f8b", "#b42318", "#067647", "#93370d", "#6941c6", "#0e7090", "#c11574"];
  const pct = function (v) { return (v * 100).toFixed(1) + " %"; };

  function survival(canvas, data) {
    const datasets = [];
    const [low, high] = [1 - data.reference[1], 1 - data.reference[0]];
    const last = Math.max(12, ...(data.at_risk || []).map(function (t) { return t.x; }), ...data.datasets.flatMap(function (d) { return d.points.map(function (p) { return p.x; }); }));
    datasets.push({label: "Source: 30–40 % relapse", data: [{x: 0, y: high}, {x: last, y: high}], borderColor: "rgba(147,55,13,.6)", borderDash: [6, 4], pointRadius: 0, fill: false});
    datasets.push({label: "", data: [{x: 0, y: low}, {x: last, y: low}], borderColor: "rgba(147,55,13,.6)", borderDash: [6, 4], pointRadius: 0, fill: "-1", backgroundColor: "rgba(254,240,199,.45)"});
    data.datasets.forEach(function (group, i) {
      const colour = COLOURS[i % COLOURS.length];
      if (group.band) {
        datasets.push({label: "", data: group.points.map(function (p) { return {x: p.x, y: p.low}; }), stepped: true, borderWidth: 0, pointRadius: 0, fill: false});
        datasets.push({label: group.label + ": 95 % band", data: group.points.map(function (p) { return {x: p.x, y: p.high}; }), stepped: true, borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(31,95,139,.15)"});
      }
      datasets.push({label: group.label, data: group.points.map(function (p) { return {x: p.x, y: p.y}; }), stepped: true, borderColor: colour, backgroundColor: colour, borderWidth: group.band ? 3 : 1.5, pointRadius: 0, fill: false, hidden: !group.band && i > 3});
    });
    return new Chart(canvas, {
      type: "line",
      data: {datasets: datasets},
      options: {
        maintainAspectRatio: false, animation: false, parsing: true,
        scales: {
          x: {
            type: "linear", min: 0, max: last,
            title: {display: true, text: "Months since the stop (under each: the number still followed, all stops)"},
            afterBuildTicks: function (axis) { axis.ticks = (data.at_risk || []).map(function (t) { return {value: t.x}; }); },
            ticks: {autoSkip: false, callback: function (value) {
              const tick = (data.at_risk || []).find(function (t) { return t.x === value; });
              return tick ? [String(value), "n = " + tick.n] : String(value);
            }}
          },
          y: {min: 0, max: 1, title: {display: true, text: "Relapse-free (Kaplan–Meier)"}, ticks: {callback: function (v) { return pct(v); }}}
        },
        plugins: {
          legend: {labels: {filter: function (item) { return item.text !== ""; }}},
          tooltip: {callbacks: {label: function (c) { return c.dataset.label + ": " + pct(c.parsed.y); }}}
        }
      }
    });
  }

  function rates(canvas, data) {
    const labels = data.bars.map(function (b) { return b.label; });
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          {label: "Rate", data: data.bars.map(function (b) { return b.value; }), backgroundColor: data.bars.map(function (b) { return b.reference ? "rgba(147,55,13,.55)" : "#1f5f8b"; })},
          {label: "95 % interval", data: data.bars.map(function (b) { return b.low == null ? null : [b.low, b.high]; }), backgroundColor: "rgba(29,39,51,.25)", barPercentage: 0.25}
        ]
      },
      options: {
        indexAxis: "y", maintainAspectRatio: false, animation: false,
        scales: {x: {min: 0, ticks: {callback: function (v) { return pct(v); }}}, y: {stacked: true}},
        plugins: {
          legend: {display: true},
          tooltip: {callbacks: {label: function (c) {
            const v = c.raw; return Array.isArray(v) ? "95 % interval " + pct(v[0]) + "–" + pct(v[1]) : pct(v);
          }}}
        }
      }
    });
  }

  document.querySelectorAll("canvas[data-outcome-chart]").forEach(function (canvas) {
    const source = document.getElementById(canvas.dataset.outcomeChart);
    if (!source) return;
    const data = JSON.parse(source.textContent);
    (data.kind === "survival" ? survival : rates)(canvas, data);
    canvas.dataset.drawn = "true";
  });
})();
