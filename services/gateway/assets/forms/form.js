// The contact form page's own script. Without it the page still reads and shows every error,
// but the spam check (a proof of work, ALTCHA's protocol) needs it.
//  - fetches a challenge from us and finds the number whose SHA-256 with the salt matches it,
//    then puts the solution in the form; a send before that waits for it;
//  - moves focus to the error summary when the page shows one;
//  - when embedded, tells the embedding page (only the origin the server named) its height.
(function () {
  'use strict';
  var parentOrigin = document.body.getAttribute('data-parent-origin');
  function report() {
    if (!parentOrigin || window.parent === window) return;
    var height = document.documentElement.scrollHeight;
    window.parent.postMessage({ type: 'ohjaus-form:height', height: height }, parentOrigin);
  }
  if (window.ResizeObserver) new ResizeObserver(report).observe(document.body);
  window.addEventListener('load', report);

  var summary = document.querySelector('.govuk-error-summary');
  if (summary) summary.focus();

  var form = document.getElementById('ohjaus-form');
  if (!form) return;
  var proof = document.getElementById('proof');
  var status = document.getElementById('proof-status');
  var waiting = false;

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = '';
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return out;
  }

  async function solve(challenge) {
    var encoder = new TextEncoder();
    for (var n = 0; n <= challenge.maxnumber; n++) {
      var digest = await crypto.subtle.digest('SHA-256', encoder.encode(challenge.salt + n));
      if (hex(digest) === challenge.challenge) {
        return btoa(JSON.stringify({
          algorithm: challenge.algorithm,
          challenge: challenge.challenge,
          number: n,
          salt: challenge.salt,
          signature: challenge.signature
        }));
      }
    }
    throw new Error('no solution');
  }

  form.addEventListener('submit', function (event) {
    if (!proof.value) {
      event.preventDefault();
      waiting = true;
      status.textContent = form.getAttribute('data-working');
    }
  });

  fetch(form.getAttribute('data-challenge'), { credentials: 'omit', cache: 'no-store' })
    .then(function (response) { return response.json(); })
    .then(solve)
    .then(function (payload) {
      proof.value = payload;
      if (waiting) {
        form.submit();
      } else {
        status.textContent = form.getAttribute('data-ready');
      }
    })
    .catch(function () {
      // The proof stays empty: the server says what went wrong when the form is sent.
      if (waiting) form.submit();
    });
})();
