// Classic (non-module) entry. Served, it loads the real entry point, js/main.js, as a module. Opened from disk
// (file://), where browsers refuse module scripts and fetch(), it loads what build.py wrote under disk/ as
// classic scripts (the modules' bundle, Pyodide's loader, the carried files: runtime/disk.js) and starts the
// same main.js from the bundle; if that fails, it says in one sentence how to serve the page instead.
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
  function failed(error) {
    var box = document.getElementById('message');
    box.textContent = 'The page could not start: ' + (error && error.message ? error.message : error);
    box.hidden = false;
  }
  if (location.protocol === 'file:') {
    startFromDisk().catch(function (error) {
      show(
        '<strong>This browser cannot run the page from disk</strong> (' + String(error && error.message ? error.message : error)
          .replace(/[&<>]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;' }[c]; }) + '): ' +
          'in the robotrain folder, run <code>python3 build.py serve</code> and open the address it prints.',
      );
    });
    return;
  }
  import('./main.js').catch(failed);

  // Classic scripts, all requested at once and run in order; resolves when every one has run.
  function loadScripts(paths) {
    return Promise.all(paths.map(function (path) {
      return new Promise(function (resolve, reject) {
        var script = document.createElement('script');
        script.src = path;
        script.async = false;
        script.onload = resolve;
        script.onerror = function () { reject(new Error('could not load ' + path)); };
        document.head.appendChild(script);
      });
    }));
  }

  function startFromDisk() {
    var base = new URL('.', location.href).href;
    var texts = {};
    window.robotrainCarry = function (path, text) { texts[path] = text; };
    var loadingText = document.getElementById('loading-text');
    if (loadingText) loadingText.textContent = 'Reading the files from disk…';
    return loadScripts(['disk/files.js']).then(function () {
      var manifest = window.robotrainDiskFiles;
      var scripts = Object.keys(manifest.files).map(function (path) { return manifest.files[path].script; });
      return loadScripts(scripts.concat(manifest.scripts)).then(function () {
        var require = window.robotrainModules(base);
        return require('js/runtime/disk.js')
          .startFromDisk(manifest, texts, base, window.robotrainModules)
          .then(function () { require('js/main.js'); });
      });
    });
  }
})();
