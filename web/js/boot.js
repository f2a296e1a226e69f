// Classic (non-module) entry: module scripts cannot load from file://, so check that first and say what to
// do in plain words; otherwise load the real entry point, js/main.js.
(function () {
  // What went wrong on this page, kept for test drivers that cannot read the console (Selenium with
  // WebKitGTK has no log API): console errors and warnings, uncaught errors and rejections, failed loads and
  // Content-Security-Policy violations (the policy blocks every request to another origin). The engine's own
  // console messages and anything logged inside workers are not seen here.
  var problems = [];
  window.robotrainProblems = problems;
  ['error', 'warn'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      problems.push('console.' + level + ': ' + Array.prototype.map.call(arguments, String).join(' '));
      return original.apply(console, arguments);
    };
  });
  window.addEventListener('error', function (event) {
    var target = event.target;
    var failedLoad = target && target !== window;
    problems.push(failedLoad ? 'failed to load ' + (target.src || target.href) : 'uncaught error: ' + event.message);
  }, true);
  window.addEventListener('unhandledrejection', function (event) {
    var reason = event.reason;
    problems.push('unhandled rejection: ' + (reason && reason.message ? reason.message : reason));
  });
  document.addEventListener('securitypolicyviolation', function (event) {
    problems.push('blocked by the Content-Security-Policy (' + event.violatedDirective + '): ' + event.blockedURI);
  });

  // WebKitGTK under the C.UTF-8 locale reports navigator.language as "C", which Intl rejects; uPlot makes an
  // Intl.NumberFormat from it as its module loads, so the page would not start. Such a tag means English.
  try {
    new Intl.NumberFormat(navigator.language);
  } catch (error) {
    Object.defineProperty(navigator, 'language', { value: 'en-US', configurable: true });
  }

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
