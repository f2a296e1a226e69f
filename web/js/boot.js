// Classic (non-module) entry: module scripts cannot load from file://, so check that first and say what to
// do in plain words; otherwise load the real entry point, js/main.js.
(function () {
  function show(html) {
    var box = document.getElementById('message');
    box.innerHTML = html;
    box.hidden = false;
    var loading = document.getElementById('loading');
    if (loading) loading.hidden = true;
  }
  if (location.protocol === 'file:') {
    show(
      '<strong>This page must be served, not opened as a file.</strong> ' +
        'Browsers do not let a page started from disk load its Python runtime and its workers. ' +
        'In the robotrain folder, run <code>python3 build.py serve</code> and open the address it prints ' +
        '(<code>http://127.0.0.1:8000/</code>).',
    );
    return;
  }
  import('./main.js').catch(function (error) {
    var box = document.getElementById('message');
    box.textContent = 'The page could not start: ' + (error && error.message ? error.message : error);
    box.hidden = false;
  });
})();
