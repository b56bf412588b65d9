// Ohjaus contact form embed. On your page:
//   <script src="https://<ohjaus>/forms/embed.js" data-form="<form id>" data-lang="fi" async></script>
//   <noscript><a href="https://<ohjaus>/forms/<form id>?lang=fi">Contact form</a></noscript>
// It places the form, a page of ours, in an iframe right after the script element and keeps the
// iframe as tall as the form. It listens only to messages from that iframe and our origin.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.getAttribute('data-form')) return;
  var ours = new URL(script.src).origin;
  var lang = script.getAttribute('data-lang') || document.documentElement.lang || 'fi';
  var src = ours + '/forms/' + encodeURIComponent(script.getAttribute('data-form')) +
    '?lang=' + encodeURIComponent(lang) + '&embed=1&origin=' + encodeURIComponent(window.location.origin);
  var frame = document.createElement('iframe');
  frame.src = src;
  frame.title = script.getAttribute('data-title') || 'Contact form';
  frame.style.width = '100%';
  frame.style.border = '0';
  frame.style.height = '600px';
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener('message', function (event) {
    if (event.origin !== ours || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.type !== 'ohjaus-form:height' || typeof data.height !== 'number') return;
    frame.style.height = Math.ceil(Math.min(Math.max(data.height, 200), 20000)) + 'px';
  });
})();
