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

  // Enter on an empty scan field keeps the parcel shown (and what was typed into
  // its form): nothing is sent.
  var scanForm = document.querySelector('[data-scan-form]');
  if (scan && scanForm) {
    scanForm.addEventListener('submit', function (e) {
      if (scan.value.trim() === '') { e.preventDefault(); e.stopImmediatePropagation(); }
    }, true);
  }

  // Scan sounds, so the result is heard without looking: found, repeat, unknown and
  // do-not-receive each have their own (Web Audio, no files). A switch mutes them;
  // the choice is remembered on this computer.
  var soundKey = 'roundtrip.station.sound';
  var soundOn = function () {
    try { return window.localStorage.getItem(soundKey) !== 'off'; } catch (err) { return true; }
  };
  var sounds = {
    // [wave, [frequency Hz, start s, length s]...]
    found: ['sine', [660, 0, 0.09], [990, 0.11, 0.14]],
    repeat: ['triangle', [587, 0, 0.08], [587, 0.14, 0.08]],
    unknown: ['sawtooth', [196, 0, 0.4]],
    stop: ['square', [880, 0, 0.12], [660, 0.16, 0.12], [440, 0.32, 0.12], [330, 0.48, 0.25]]
  };
  var soundFor = { ok: 'found', received: 'found', repeat: 'repeat', unknown: 'unknown', closed: 'stop' };
  var audio = null;
  var play = function (name) {
    var AC = window.AudioContext || window.webkitAudioContext;
    var tune = sounds[name];
    if (!AC || !tune || !soundOn()) return false;
    try {
      audio = audio || new AC();
      if (audio.state === 'suspended' && audio.resume) audio.resume();
      var t0 = audio.currentTime + 0.02;
      for (var i = 1; i < tune.length; i++) {
        var n = tune[i], osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = tune[0];
        osc.frequency.value = n[0];
        gain.gain.setValueAtTime(0.0001, t0 + n[1]);
        gain.gain.exponentialRampToValueAtTime(0.25, t0 + n[1] + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + n[1] + n[2]);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(t0 + n[1]);
        osc.stop(t0 + n[1] + n[2] + 0.02);
      }
      return true;
    } catch (err) { return false; }
  };
  var toggle = document.querySelector('[data-sound-toggle]');
  var showToggle = function () {
    if (!toggle) return;
    var on = soundOn();
    toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    toggle.textContent = on ? 'Sound on' : 'Sound off';
  };
  if (toggle) {
    toggle.hidden = false;
    showToggle();
    toggle.addEventListener('click', function () {
      try { window.localStorage.setItem(soundKey, soundOn() ? 'off' : 'on'); } catch (err) { /* not remembered */ }
      showToggle();
      if (soundOn()) play('found');
      if (scan) scan.focus();
    });
  }
  var result = document.querySelector('[data-result]');
  if (result && soundFor[result.getAttribute('data-result')]) {
    var name = soundFor[result.getAttribute('data-result')];
    result.setAttribute('data-sound', play(name) ? name : 'muted');
  }
  // a page that a scan loaded may not play before the first key press
  document.addEventListener('keydown', function () {
    if (audio && audio.state === 'suspended' && audio.resume) audio.resume();
  });

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
    if (!f.hasAttribute('data-once') || e.defaultPrevented) return;
    if (f.getAttribute('data-sent')) { e.preventDefault(); return; }
    f.setAttribute('data-sent', '1');
  });
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) document.querySelectorAll('form[data-sent]').forEach(function (f) { f.removeAttribute('data-sent'); });
  });

  // Times in the reader's own time zone.
  var localTimes = function (root) {
    root.querySelectorAll('time[data-local]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d)) t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    });
  };
  localTimes(document);

  // Live parts: an element marked data-live (with an id) that is still
  // data-live-pending asks its URL again every two seconds, for ten minutes at most,
  // and takes from the answer its own fresh copy and those of the page's
  // data-live-part elements (matched by id): a refund's status, a reconciliation's
  // progress. Without the script the page shows the same after a reload.
  var live = document.querySelector('[data-live][id]');
  if (live && window.fetch && window.DOMParser) {
    var liveID = live.id, liveURL = live.getAttribute('data-live'), liveUntil = Date.now() + 10 * 60 * 1000;
    var refresh = function () {
      var cur = document.getElementById(liveID);
      if (!cur || !cur.hasAttribute('data-live-pending') || Date.now() > liveUntil) return;
      fetch(liveURL, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (r) { return r.ok ? r.text() : ''; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, 'text/html');
          document.querySelectorAll('[data-live][id], [data-live-part][id]').forEach(function (old) {
            var fresh = doc.getElementById(old.id);
            if (!fresh || old.outerHTML === fresh.outerHTML) return;
            var node = document.importNode(fresh, true);
            if (old.tagName === 'DETAILS') node.open = old.open;
            old.replaceWith(node);
            localTimes(node);
          });
        })
        .catch(function () {})
        .then(function () { window.setTimeout(refresh, 2000); });
    };
    window.setTimeout(refresh, 2000);
  }

  // A list of what is wrong with a form takes the focus, so that it is read first
  // and its links lead to the fields.
  var problems = document.querySelector('[data-focus]');
  if (problems) problems.focus();

  // Review queue: j and k move between the returns waiting for review.
  var queue = document.querySelector('[data-queue]');
  if (queue) {
    document.addEventListener('keydown', function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || (e.key !== 'j' && e.key !== 'k')) return;
      var t = e.target;
      if (t.closest && t.closest('input, textarea, select, [contenteditable]')) return;
      var items = Array.prototype.slice.call(queue.querySelectorAll('[data-queue-item]'));
      if (!items.length) return;
      var at = items.findIndex(function (it) { return it.contains(document.activeElement); });
      var next = e.key === 'j' ? Math.min(at + 1, items.length - 1) : Math.max(at - 1, 0);
      if (at < 0) next = 0;
      e.preventDefault();
      items[next].focus();
      items[next].scrollIntoView({ block: 'start' });
    });
  }

  // A form that asks first (revoking a key): a plain confirm, only with JavaScript.
  document.addEventListener('submit', function (e) {
    var msg = e.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  // Secrets shown once are selected whole when focused, to copy them.
  document.querySelectorAll('[data-select-all]').forEach(function (i) {
    i.addEventListener('focus', function () { i.select(); });
  });

  // Colours of a preview's swatches, set through the CSSOM (allowed by the page's
  // content security policy, unlike style attributes) after a live update.
  var paint = function (root) {
    root.querySelectorAll('[data-bg]').forEach(function (el) { el.style.background = el.getAttribute('data-bg'); });
    root.querySelectorAll('[data-fg]').forEach(function (el) { el.style.color = el.getAttribute('data-fg'); });
  };

  // Live preview: a form marked data-live-preview is previewed as it is edited, the
  // server rendering the page's #preview section as the Preview button would.
  document.querySelectorAll('form[data-live-preview]').forEach(function (form) {
    var target = document.getElementById('preview');
    if (!target || !window.fetch || !window.DOMParser) return;
    var timer = null, seq = 0;
    var update = function () {
      var body = new URLSearchParams(new FormData(form));
      body.set('op', 'preview');
      var mine = ++seq;
      target.setAttribute('aria-busy', 'true');
      fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin' })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          if (mine !== seq) return;
          var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('preview');
          if (fresh) { target.innerHTML = fresh.innerHTML; paint(target); }
        })
        .catch(function () {})
        .then(function () { if (mine === seq) target.removeAttribute('aria-busy'); });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(update, 350); };
    form.addEventListener('input', later);
    form.addEventListener('change', later);
  });
  // Items page: the quote appears under the items and follows every change of
  // quantity, reason or resolution; the Confirm button in it creates the return from
  // this page, photos included. Without JavaScript the form goes to its own quote
  // step instead.
  document.querySelectorAll('form[data-live-quote]').forEach(function (form) {
    var target = document.getElementById('live-quote');
    var step = form.querySelector('[data-quote-step]');
    if (!target || !window.fetch || !window.DOMParser || !window.FormData) return;
    var timer = null, seq = 0;
    // photos only for merchant-fault reasons
    var photos = function () {
      form.querySelectorAll('[data-reason]').forEach(function (sel) {
        var box = form.querySelector('[data-photos="' + sel.getAttribute('data-reason') + '"]');
        if (!box) return;
        var opt = sel.options[sel.selectedIndex];
        var fault = !!(opt && opt.hasAttribute('data-fault'));
        box.hidden = !fault;
        if (!fault) box.querySelectorAll('input[type=file]').forEach(function (i) { i.value = ''; });
      });
    };
    var update = function () {
      var body = new URLSearchParams();
      new FormData(form).forEach(function (v, k) { if (typeof v === 'string') body.append(k, v); });
      body.set('live', '1');
      var mine = ++seq;
      target.setAttribute('aria-busy', 'true');
      fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin' })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          if (mine !== seq) return;
          var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('live-quote');
          if (!fresh) return;
          target.innerHTML = fresh.innerHTML;
          target.hidden = false;
          if (step) step.hidden = !fresh.hasAttribute('data-keep-step');
          form.setAttribute('data-live-ready', String(mine));
        })
        .catch(function () { if (step) step.hidden = false; })
        .then(function () { if (mine === seq) target.removeAttribute('aria-busy'); });
    };
    var later = function (e) {
      if (e && e.target && e.target.type === 'file') return;
      photos();
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    };
    form.addEventListener('change', later);
    form.addEventListener('input', later);
    photos();
    update();
  });
})();
