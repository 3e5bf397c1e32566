{#- Records JavaScript errors in #js-errors and body[data-js-errors] (read by the headless-browser tests). -#}
(function(){
  var errors = [];
  function flush(){
    var el = document.getElementById('js-errors');
    if (el) { el.textContent = errors.join('\n'); }
    if (document.body) { document.body.setAttribute('data-js-errors', String(errors.length)); }
  }
  function record(message){ errors.push(String(message)); flush(); }
  window.addEventListener('error', function(e){
    record((e.message || 'error') + (e.filename ? ' at ' + e.filename + ':' + e.lineno : ''));
  });
  window.addEventListener('unhandledrejection', function(e){
    var r = e.reason; record('unhandled rejection: ' + (r && r.message ? r.message : r));
  });
  document.addEventListener('DOMContentLoaded', flush);
  window.__shopflowRecordError = record;
})();
