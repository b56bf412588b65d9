// The pages' only script, served from our own origin (CSP `script-src 'self'`). It only
// enhances: every page works without it, by plain forms and links.
//
// - A workspace's conversation follows the workspace's live stream (Server-Sent Events): a new
//   message is fetched as a fragment of the page, rendered by the server in the reader's
//   language, and added to the list; a screen reader hears it through a polite live region.
//   When the reader's access ends, the page is loaded again (and says "not found").
// - In a group workspace its staff read one customer's thread at a time: a message of another
//   thread marks that thread's link ("new") instead of joining the list.
// - The message form sends without reloading the page; a refused form is sent the plain way, so
//   the page shows the reasons by their fields as without the script.
// - Before the session's idle end, an assertive live region warns and offers to continue.
(function () {
  'use strict';

  var ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  function conversation() {
    var list = document.querySelector('ol[data-live]');
    if (!list || !window.EventSource || !window.fetch) return null;
    var announcer = document.getElementById('live-announcement');
    var empty = document.getElementById('no-messages');
    var source = new EventSource(list.getAttribute('data-live'));

    function add(id) {
      if (!ID.test(id) || document.getElementById('m-' + id)) return;
      fetch(list.getAttribute('data-fragment') + id, { credentials: 'same-origin' })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html || document.getElementById('m-' + id)) return;
          var template = document.createElement('template');
          template.innerHTML = html.trim();
          var item = template.content.firstElementChild;
          if (!item || item.id !== 'm-' + id) return;
          list.appendChild(item);
          if (empty) empty.hidden = true;
          var meta = item.querySelector('.ohjaus-message__meta');
          if (announcer && !item.classList.contains('ohjaus-message--mine') && meta) {
            announcer.textContent = announcer.getAttribute('data-template') + ' ' + meta.textContent;
          }
        })
        .catch(function () { /* the next page load shows it */ });
    }

    source.addEventListener('open', function () { list.setAttribute('data-connected', ''); });
    // A group's staff read one thread at a time (`data-thread`: a customer's id, empty for
    // everyone's): a message of another thread marks that thread's link instead.
    var shownThread = list.getAttribute('data-thread');
    function elsewhere(threadId) {
      var link = document.querySelector('a[data-thread-id="' + threadId + '"]');
      var threads = link && link.closest('[data-new]');
      if (!link || !threads || link.querySelector('.govuk-tag')) return;
      var tag = document.createElement('strong');
      tag.className = 'govuk-tag govuk-!-margin-left-1';
      tag.textContent = threads.getAttribute('data-new');
      link.appendChild(tag);
      if (announcer) announcer.textContent = threads.getAttribute('data-new') + ': ' + link.textContent;
    }
    source.addEventListener('message', function (event) {
      if (shownThread !== null) {
        var threadId = '';
        try { threadId = JSON.parse(event.data).thread_id || ''; } catch (e) { return; }
        if (threadId !== shownThread) {
          if (ID.test(threadId) || threadId === '') elsewhere(threadId);
          return;
        }
      }
      add(event.lastEventId);
    });
    source.addEventListener('access-ended', function () {
      source.close();
      if (announcer) announcer.textContent = announcer.getAttribute('data-ended');
      window.location.reload();
    });
    return source;
  }

  function sending(source) {
    var form = document.querySelector('form[data-enhanced-send]');
    if (!form || !window.fetch || !window.FormData) return;
    var busy = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      fetch(form.action, { method: 'POST', body: new FormData(form), credentials: 'same-origin' })
        .then(function (response) {
          busy = false;
          var workspace = form.getAttribute('data-enhanced-send');
          var back = response.ok && response.redirected && new URL(response.url).pathname === workspace;
          if (!back) {
            // Refused: the plain way shows why, by the fields.
            form.submit();
            return;
          }
          var body = form.querySelector('textarea[name=body]');
          var file = form.querySelector('input[type=file]');
          if (body) body.value = '';
          if (file) file.value = '';
          // The live stream brings the message; without it (or from an error page, whose
          // address is the form's), the workspace's page shows it.
          if (!source || source.readyState !== 1 || window.location.pathname !== workspace) {
            window.location.assign(response.url);
          }
          else if (body) body.focus();
        })
        .catch(function () {
          busy = false;
          form.submit();
        });
    });
  }

  function sessionWarning() {
    var region = document.getElementById('session-warning');
    if (!region || !window.fetch) return;
    var expires = Date.parse(region.getAttribute('data-expires'));
    if (isNaN(expires)) return;
    var lead = 5 * 60 * 1000;
    var timers = [];

    function clear() {
      timers.forEach(function (t) { clearTimeout(t); });
      timers = [];
      region.textContent = '';
    }

    function banner(text, withButton) {
      region.textContent = '';
      var box = document.createElement('div');
      box.className = 'govuk-notification-banner';
      var content = document.createElement('div');
      content.className = 'govuk-notification-banner__content';
      var p = document.createElement('p');
      p.className = 'govuk-notification-banner__heading';
      p.textContent = text;
      content.appendChild(p);
      if (withButton) {
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'govuk-button govuk-!-margin-bottom-0';
        button.textContent = region.getAttribute('data-continue');
        button.addEventListener('click', keepAlive);
        content.appendChild(button);
      }
      box.appendChild(content);
      region.appendChild(box);
    }

    function warn() {
      var at = new Date(expires).toLocaleTimeString(document.documentElement.lang, { hour: '2-digit', minute: '2-digit' });
      banner(region.getAttribute('data-warning').replace('%TIME%', at), true);
    }

    function ended() {
      banner(region.getAttribute('data-ended'), false);
    }

    function schedule() {
      clear();
      timers.push(setTimeout(warn, Math.max(0, expires - lead - Date.now())));
      timers.push(setTimeout(ended, Math.max(0, expires - Date.now())));
    }

    function keepAlive() {
      fetch('/app/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (session) {
          var next = session && Date.parse(session.expires_at);
          if (!next || isNaN(next)) { clear(); ended(); return; }
          expires = next;
          schedule();
        })
        .catch(function () { /* the warning stays; the button may be pressed again */ });
    }

    schedule();
  }

  sending(conversation());
  sessionWarning();
})();
