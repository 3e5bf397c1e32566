{#- Draws every chart of #chart-specs with Plotly and counts them in body[data-charts-rendered]. -#}
(function(){
  var specs = JSON.parse(document.getElementById('chart-specs').textContent);
  var config = {responsive: true, displaylogo: false, displayModeBar: false};
  var drawn = 0;
  document.body.setAttribute('data-charts-expected', String(specs.length));
  document.body.setAttribute('data-charts-rendered', '0');
  specs.forEach(function(spec){
    try {
      Plotly.newPlot(spec.id, spec.data, spec.layout, config).then(function(){
        drawn += 1;
        document.body.setAttribute('data-charts-rendered', String(drawn));
      }, function(err){ window.__shopflowRecordError('chart ' + spec.id + ': ' + err); });
    } catch (err) {
      window.__shopflowRecordError('chart ' + spec.id + ': ' + (err && err.message ? err.message : err));
    }
  });
})();
