// Roundtrip pages work without this script; it only helps.
(function () {
  'use strict';

  // Scan station: a keyboard-wedge scanner types wherever the focus is, so the
  // scan field takes the focus back whenever nothing else has it.
  var scan = document.querySelector('[data-scan-field]');
  if (scan) {
    var refocus = function () {
      var a = document.activeElement;
      if (!a || a === document.body || a === document.documentElement) scan.focus();
    };
    scan.focus();
    document.addEventListener('focusout', function () { window.requestAnimationFrame(refocus); });
    document.addEventListener('click', function (e) {
      if (!e.target.closest('a, button, input, select, textarea, label, summary')) scan.focus();
    });
  }

  // Enter in a select submits its form where the form asks for it (receiving).
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    if (e.key === 'Enter' && t.tagName === 'SELECT' && t.form && t.form.hasAttribute('data-enter-submits')) {
      e.preventDefault();
      if (t.form.requestSubmit) t.form.requestSubmit(); else t.form.submit();
    }
  });

  // A second click or Enter does not send a form twice.
  document.addEventListener('submit', function (e) {
    var f = e.target;
    if (!f.hasAttribute('data-once')) return;
    if (f.getAttribute('data-sent')) { e.preventDefault(); return; }
    f.setAttribute('data-sent', '1');
  });
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) document.querySelectorAll('form[data-sent]').forEach(function (f) { f.removeAttribute('data-sent'); });
  });

  // Times in the reader's own time zone.
  document.querySelectorAll('time[data-local]').forEach(function (t) {
    var d = new Date(t.getAttribute('datetime'));
    if (!isNaN(d)) t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  });
})();
